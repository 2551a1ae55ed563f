# One image for every newsflow service (workers, beat, api; Flower runs from its upstream image);
# docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NEWSFLOW_DATA_DIR=/data

WORKDIR /app
# The versions the tests passed with, checked against their hashes (`python3 scripts/dev.py lock`
# writes the file); a layer of its own, so a code change does not reinstall them.
COPY requirements.lock /app/
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY . /app
RUN pip install --no-deps . \
    && pip check \
    && useradd --create-home --uid 10001 newsflow \
    && mkdir -p /data \
    && chown newsflow:newsflow /data

USER newsflow
VOLUME ["/data"]
CMD ["newsflow", "--help"]
