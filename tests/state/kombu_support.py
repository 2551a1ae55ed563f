"""Publishing and taking messages as Celery and its workers do, with the real kombu, for the
tests of the broker adapter and the reconciler; the `broker` fixture is in conftest.py."""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

from kombu import Connection, Exchange, Message, Queue

from pipeline.stages import QUEUES
from pipeline.state.broker import UNACKED, UNACKED_INDEX
from workers.celery_app import app

QUEUE = "fetch"
TASK = "fetch.page"


def purge(conn: Connection) -> None:
    """Empty every queue, and forget every held message (those of earlier tests' consumers)."""
    channel = conn.default_channel
    for name in QUEUES:
        channel.queue_purge(name)
    client = channel.client
    client.delete(UNACKED, UNACKED_INDEX)


def publish(priority: int | None = None) -> str:
    """One task message, as the stages publish it (Celery's own message format)."""
    task_id = f"{TASK}:{uuid.uuid4().hex[:12]}"
    options: dict[str, Any] = {} if priority is None else {"priority": priority}
    app.send_task(TASK, kwargs={"url": "http://127.0.0.1/x"}, task_id=task_id, **options)
    return task_id


def take(conn: Connection) -> Message:
    """Take one message from the queue as a Celery worker does (late acknowledgement), and keep it."""
    got: list[Message] = []
    queue = Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE)
    with conn.Consumer(queue, callbacks=[lambda _body, message: got.append(message)], accept=["json"]) as consumer:
        consumer.qos(prefetch_count=1)
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=1)
    assert got, "kombu delivered nothing"
    return got[0]
