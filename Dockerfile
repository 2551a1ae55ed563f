# One image for every newsflow service (workers, beat, flower, api); docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NEWSFLOW_DATA_DIR=/data

WORKDIR /app
COPY . /app
RUN pip install . \
    && useradd --create-home --uid 10001 newsflow \
    && mkdir -p /data \
    && chown newsflow:newsflow /data

USER newsflow
VOLUME ["/data"]
CMD ["newsflow", "--help"]
