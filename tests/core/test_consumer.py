"""The task consumer's one change to Celery's: a broken broker connection that cannot be
closed does not end the worker (pure logic, with a stand-in for the broken connection)."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from workers.celery_app import app
from workers.consumer import Consumer


class TakenApart:
    """A connection as kombu 5.7 leaves it after `collect()` during an outage: closing its
    channel builds a Redis client from a transport that is gone."""

    connection_errors = (RedisConnectionError,)
    channel_errors = ()

    def __init__(self, fails_with: type[Exception]) -> None:
        self.fails_with = fails_with

    def collect(self, socket_timeout: float | None = None) -> None:
        pass

    def close(self) -> None:
        raise self.fails_with("'NoneType' object has no attribute 'hostname'")


def consumer_on(connection: TakenApart) -> Consumer:
    consumer = Consumer.__new__(Consumer)  # no broker, no pool: only the error path runs
    consumer.app = app
    consumer.connection = connection
    return consumer


@pytest.mark.filterwarnings("ignore::celery.exceptions.CPendingDeprecationWarning")
def test_a_connection_that_cannot_be_closed_after_an_outage_leaves_the_worker_running() -> None:
    consumer = consumer_on(TakenApart(AttributeError))
    consumer.on_connection_error_after_connected(RedisConnectionError("Connection refused"))
    assert consumer.connection is None  # dropped; the consumer goes on to connect again


@pytest.mark.filterwarnings("ignore::celery.exceptions.CPendingDeprecationWarning")
def test_other_errors_on_that_path_still_surface() -> None:
    consumer = consumer_on(TakenApart(KeyError))
    with pytest.raises(KeyError):
        consumer.on_connection_error_after_connected(RedisConnectionError("Connection refused"))
