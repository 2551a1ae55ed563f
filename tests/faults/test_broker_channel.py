"""A channel of a broker connection taken apart in an outage fails as a connection error
(`workers.broker`), against a real redis-server killed under it."""

from __future__ import annotations

import pytest
import redis
from kombu import Connection, Exchange, Queue
from kombu.common import ignore_errors

from tests.faults import harness
from workers.broker import GONE
from workers.celery_app import app  # loading the app puts the fix in place


def test_a_late_ack_on_a_channel_of_a_collected_connection_is_a_connection_error(
    redis_server: harness.RedisServer,
) -> None:
    """What ended a worker about once in ten Redis restarts: a task acknowledged, after the
    outage, on a channel whose connection Celery had gathered (its transport's client gone,
    its pool dropped) failed with an AttributeError. Now it is a Redis connection error, one
    Celery logs and leaves; the message waits in Redis to be delivered again."""
    assert app.main == "newsflow"
    # The message must be on disk before the SIGKILL. With fsync every second, redis-server puts
    # off its append-only writes while a slow fsync runs: on a busy disk the message was lost so
    # (once in CI, once in 15 runs here under write load).
    setup = redis.Redis.from_url(redis_server.url)
    try:
        setup.config_set("appendfsync", "always")
    finally:
        setup.close()
    queue = Queue("fault-ack", Exchange("fault-ack", type="direct"), routing_key="fault-ack")
    connection = Connection(redis_server.url)
    with connection.Producer() as producer:
        producer.publish({"n": 1}, exchange=queue.exchange, routing_key="fault-ack", declare=[queue])
    message = connection.default_channel.basic_get("fault-ack", no_ack=False)
    assert message is not None
    redis_server.kill()
    connection.collect(socket_timeout=0.2)  # as Celery's consumer does with a broken connection
    message.channel._disconnect_pools()  # as the channel does when its socket breaks
    with pytest.raises(redis.exceptions.ConnectionError, match=GONE):
        message.ack()
    ignore_errors(connection, connection.close)  # Celery's close of it: nothing escapes
    redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.hlen("unacked") == 1  # not lost: it waits to be delivered again
    finally:
        client.close()
