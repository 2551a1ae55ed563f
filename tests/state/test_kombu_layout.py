"""The contract between `pipeline.state.broker` and the pinned kombu: real Celery publishes,
real kombu consumers take, and the adapter must read, count and put back what they wrote.

If a kombu upgrade moves its Redis layout (queue lists, priority lists, `unacked`, the
binding sets, the message's headers), a test here fails instead of redelivery going quiet.
"""

from __future__ import annotations

import json
import time

import pytest

from pipeline.state import StateStore
from pipeline.state.broker import SEP, UNACKED, UNACKED_INDEX, Held, binding_key, queue_key
from tests.state.kombu_support import QUEUE, TASK, publish, take
from workers.celery_app import app

pytestmark = pytest.mark.integration


def test_a_published_message_is_counted_and_found_in_its_queue(broker: StateStore) -> None:
    """Celery's publish lands in the list named after the queue, its task id in `headers.id`."""
    task_id = publish()
    assert broker.broker.depths()[QUEUE] == 1
    assert broker.broker.queued_ids(QUEUE) == {task_id}
    assert broker.broker.r.llen(queue_key(QUEUE)) == 1


@pytest.mark.parametrize(("priority", "step"), [(0, 0), (2, 0), (3, 3), (7, 6), (9, 9)])
def test_a_priority_lands_in_the_list_the_adapter_counts(broker: StateStore, priority: int, step: int) -> None:
    """kombu files a priority under the highest step not above it, in `<queue>\\x06\\x16<step>`."""
    task_id = publish(priority)
    assert broker.broker.r.llen(queue_key(QUEUE, step)) == 1
    assert broker.broker.depths()[QUEUE] == 1
    assert broker.broker.queued_ids(QUEUE) == {task_id}


def test_the_queue_is_bound_as_the_adapter_reads_bindings(broker: StateStore) -> None:
    """Each queue's exchange keeps `routing key SEP pattern SEP queue` in `_kombu.binding.<exchange>`."""
    publish()
    members = {m.decode() for m in broker.broker.r.smembers(binding_key(QUEUE))}
    assert {m.split(SEP)[0] + "|" + m.split(SEP)[2] for m in members} == {f"{QUEUE}|{QUEUE}"}


def test_a_taken_message_is_held_with_its_tag_task_queue_and_time(broker: StateStore) -> None:
    """A consumer's unacknowledged message is in `unacked` and `unacked_index`, as `Held`."""
    task_id = publish()
    before = time.time()
    with app.connection_for_read() as conn:
        message = take(conn)
        assert broker.broker.depths()[QUEUE] == 0
        (held,) = broker.broker.held()
        assert held == Held(str(message.delivery_tag), task_id, TASK, QUEUE, held.since)
        assert before - 1 <= held.since <= time.time() + 1
        assert broker.broker.in_flight() == 1
        message.ack()
    assert broker.broker.held() == []


def test_the_adapters_restore_is_kombus_restore(broker: StateStore) -> None:
    """Put back by the adapter or by kombu itself, the queue holds the same message, redelivered."""
    publish()
    with app.connection_for_read() as conn:
        message = take(conn)
        tag = str(message.delivery_tag)
        entry = broker.broker.r.hget(UNACKED, tag)
        index = broker.broker.r.zscore(UNACKED_INDEX, tag)
        assert broker.broker.restore([tag]) == 1
        ours = broker.broker.r.lrange(queue_key(QUEUE), 0, -1)
        assert broker.broker.held() == []
        # The same message held again, then put back by kombu's own restore.
        broker.broker.r.delete(queue_key(QUEUE))
        broker.broker.r.hset(UNACKED, tag, entry)
        broker.broker.r.zadd(UNACKED_INDEX, {tag: index})
        conn.default_channel.qos.restore_by_tag(tag)
        theirs = broker.broker.r.lrange(queue_key(QUEUE), 0, -1)
    assert [json.loads(m) for m in ours] == [json.loads(m) for m in theirs]
    assert json.loads(ours[0])["headers"]["redelivered"] is True


def test_a_restored_message_is_delivered_again(broker: StateStore) -> None:
    """kombu takes what the adapter put back: the same task, marked redelivered."""
    task_id = publish()
    with app.connection_for_read() as gone:  # a worker that took it and went away
        first = take(gone)
        assert broker.broker.restore([str(first.delivery_tag)]) == 1
    with app.connection_for_read() as conn:
        again = take(conn)
        assert again.headers["id"] == task_id
        assert again.delivery_info["redelivered"] is True
        again.ack()


def test_way_back_1_kombus_visibility_timeout_puts_back_a_message_held_too_long(broker: StateStore) -> None:
    """Way back 1: a consumer of our configuration puts back a message held longer than
    `visibility_timeout` (taken that long ago by a worker that vanished)."""
    publish()
    timeout = app.conf.broker_transport_options["visibility_timeout"]
    with app.connection_for_read() as conn:
        message = take(conn)
        tag = str(message.delivery_tag)
        broker.broker.r.zadd(UNACKED_INDEX, {tag: time.time() - timeout - 5})
        assert broker.broker.queued_ids(QUEUE) == set()
        conn.default_channel.qos.restore_visible(num=10, interval=1)
        assert [h.tag for h in broker.broker.held()] == []
        assert broker.broker.depths()[QUEUE] == 1


def test_within_the_visibility_timeout_kombu_leaves_a_held_message(broker: StateStore) -> None:
    """The other side of way back 1: a message held for less than the timeout stays held."""
    publish()
    timeout = app.conf.broker_transport_options["visibility_timeout"]
    with app.connection_for_read() as conn:
        message = take(conn)
        tag = str(message.delivery_tag)
        broker.broker.r.zadd(UNACKED_INDEX, {tag: time.time() - timeout + 60})
        conn.default_channel.qos.restore_visible(num=10, interval=1)
        assert [h.tag for h in broker.broker.held()] == [tag]
        message.ack()
