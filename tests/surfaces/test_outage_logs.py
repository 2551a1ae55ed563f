"""Outages logged as outages: one warning when one begins, one line when it ends (pure logging)."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from workers import outages
from workers.logs import configure_logging


@pytest.fixture
def worker_log() -> Iterator[io.StringIO]:
    """This process logging as a worker does, into a string; logging and outages restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("text", logging.INFO, stream, worker=True)
    outages.REDIS.over()
    yield stream
    outages.REDIS.over()
    root.handlers[:], level = saved
    root.setLevel(level)


def test_a_redis_outage_is_one_warning_then_one_line_without_tracebacks(worker_log: io.StringIO) -> None:
    """Records carrying a Redis connection error (as exception or argument), however many,
    print one warning and no traceback; Celery's reconnection ends it with the count."""
    error = RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    ack = logging.getLogger("celery.worker.request")
    for n in range(5):
        try:
            raise error
        except RedisConnectionError:
            ack.critical("Couldn't ack %r, reason:%r", f"task-{n}", error, exc_info=True)
    logging.getLogger("celery.worker.consumer.consumer").error("consumer: Cannot connect to %s: %s.", "redis", error)
    logging.getLogger("newsflow.tasks").info("an unrelated line goes through")
    logging.getLogger("celery.worker.consumer.connection").info("Connected to %s", "redis://127.0.0.1:6379/0")
    lines = worker_log.getvalue().splitlines()
    assert "Traceback" not in worker_log.getvalue()
    assert sum("Redis is unavailable" in line and "outage begins" in line for line in lines) == 1
    ends = [line for line in lines if "Redis answers again after" in line]
    assert len(ends) == 1 and "6 attempt(s) waited" in ends[0], ends
    assert any("an unrelated line goes through" in line for line in lines)


def test_a_worker_stopping_on_an_outage_error_says_why(worker_log: io.StringIO) -> None:
    """Celery's worker stopping on an error it cannot recover from, a Redis connection error
    among them, logs it with its traceback: folded into the outage, the process would end
    without a word (it did, once in ten fault runs)."""
    error = RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    try:
        raise error
    except RedisConnectionError:
        logging.getLogger("celery.worker.request").critical("Couldn't ack %r", "task-1", exc_info=True)
        logging.getLogger("celery.worker").critical("Unrecoverable error: %r", error, exc_info=True)
    text = worker_log.getvalue()
    assert "Couldn't ack" not in text  # an outage met: folded, as before
    assert "Unrecoverable error" in text and "Traceback" in text and "ConnectionError: Error 111" in text


def test_a_success_that_began_before_the_outage_does_not_end_it(worker_log: io.StringIO) -> None:
    """Another thread's call answered just after the first failure says nothing of the end."""
    before = time.monotonic()
    outages.SEARCH.hit("cluster unreachable", waiting=10)
    outages.SEARCH.over("index batch(es)", before)
    assert outages.SEARCH.ongoing
    outages.SEARCH.hit("cluster unreachable", waiting=40)
    outages.SEARCH.over("index batch(es)", time.monotonic())
    text = worker_log.getvalue()
    assert text.count("outage begins") == 1 and text.count("outage ends") == 1
    assert "2 index batch(es) waited, up to 40 waiting" in text
