"""The reconciler's reads and acts against real Redis and the real kombu: each way back that
`pipeline.delivery` plans, carried out, and a quiet pass that reads no queued message."""

from __future__ import annotations

import time

import pytest

from pipeline.stages import fetch_work
from pipeline.state import StateStore, keys
from tests.faults import harness
from tests.state.kombu_support import QUEUE, take
from workers.celery_app import app
from workers.handoff import flush_held, publish, reconcile, recover_node, submit

pytestmark = pytest.mark.integration

GRACE = 20.0
LEASE = 300.0


def _items(n: int, tag: str) -> list:
    return [fetch_work(f"http://127.0.0.1/{tag}/{i}") for i in range(n)]


def _calls(state: StateStore, command: str) -> int:
    return int(state.broker.r.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def test_an_item_recorded_but_never_published_is_published_after_the_grace(broker: StateStore) -> None:
    """A publish cut off by a crash: the item waits in the ledger, and goes out once the grace is over."""
    (item,) = _items(1, "cut")
    now = time.time()
    broker.work.record([item], now)
    assert reconcile(broker, grace=GRACE, lease=LEASE, now=now + GRACE - 1).republished == 0
    assert broker.broker.queued_ids(QUEUE) == set()
    assert reconcile(broker, grace=GRACE, lease=LEASE, now=now + GRACE).republished == 1
    assert broker.broker.queued_ids(QUEUE) == {item.id}
    assert broker.work.unpublished(now + GRACE) == {}


def test_a_message_the_broker_lost_is_found_by_counting_and_published_again(broker: StateStore) -> None:
    """One message of five vanishes from the queue: the counts disagree, the queue is read, it goes out again."""
    items = _items(5, "lost")
    submit(broker, items)
    assert broker.broker.r.lrem(QUEUE, 1, broker.broker.r.lindex(QUEUE, 0)) == 1
    lost = {i.id for i in items} - broker.broker.queued_ids(QUEUE)
    assert len(lost) == 1
    done = reconcile(broker, grace=GRACE, lease=LEASE, now=time.time() + GRACE + 1)
    assert done.inspected == [QUEUE]
    assert done.republished == 1
    assert broker.broker.queued_ids(QUEUE) == {i.id for i in items}


def test_a_pass_whose_counts_agree_reads_no_queued_message(broker: StateStore) -> None:
    """With every published item carried, a pass counts and reads no message from any queue."""
    submit(broker, _items(50, "quiet"))
    before = _calls(broker, "lrange")
    done = reconcile(broker, grace=GRACE, lease=LEASE, now=time.time() + GRACE + 1)
    assert not done and done.inspected == []
    assert _calls(broker, "lrange") == before


def test_deferred_work_is_published_when_its_time_comes(broker: StateStore) -> None:
    """A retry waits in the ledger with no message, and is published when due."""
    (item,) = _items(1, "due")
    now = time.time()
    broker.commit(defer=(item, now + 5))
    assert reconcile(broker, grace=GRACE, lease=LEASE, now=now + 4).due == 0
    assert broker.broker.queued_ids(QUEUE) == set()
    assert reconcile(broker, grace=GRACE, lease=LEASE, now=now + 5).due == 1
    assert broker.broker.queued_ids(QUEUE) == {item.id}


def test_a_held_message_of_a_dead_node_goes_back_at_once(broker: StateStore) -> None:
    """recover_node puts back the message of what the dead worker ran, and forgets its run."""
    (item,) = _items(1, "node")
    submit(broker, [item])
    with app.connection_for_read() as conn:
        message = take(conn)
        broker.work.start(item.id, "w1@host", str(message.delivery_tag), time.time())
        assert recover_node(broker, "w2@host") == 0
        assert recover_node(broker, "w1@host") == 1
        assert broker.work.running() == {}
        assert broker.broker.queued_ids(QUEUE) == {item.id}


def test_a_message_held_once_the_ledger_is_empty_is_flushed(broker: StateStore) -> None:
    """The end of run --once: a message still held after all work ended goes back (an ack lost)."""
    (item,) = _items(1, "flush")
    publish(broker, [item], claim=False)  # a message of no ledger item: nothing to claim
    with app.connection_for_read() as conn:
        take(conn)
        assert flush_held(broker, older_than=60) == 0
        assert flush_held(broker, older_than=-1) == 1
        assert broker.broker.held() == []
        assert broker.broker.queued_ids(QUEUE) == {item.id}


def test_a_held_message_past_the_grace_whose_item_nobody_runs_is_put_back(broker: StateStore) -> None:
    """A worker took the message and died before starting it: after the grace it goes back."""
    (item,) = _items(1, "held")
    submit(broker, [item])
    with app.connection_for_read() as conn:
        take(conn)
        assert reconcile(broker, grace=GRACE, lease=LEASE, now=time.time() + 1).restored == 0
        assert reconcile(broker, grace=GRACE, lease=LEASE, now=time.time() + GRACE + 1).restored == 1
        assert broker.broker.queued_ids(QUEUE) == {item.id}


@pytest.mark.skipif(harness.STATE_ON_CLUSTER, reason="the earlier layout was on one Redis; a cluster starts new")
def test_items_of_an_earlier_ledger_layout_are_published_once(broker: StateStore) -> None:
    """A ledger written before `work:live` existed (items in `work` and `work:sent` alone): its
    items count as unpublished, so one the broker lost meanwhile is not lost for good."""
    (item,) = _items(1, "earlier")
    now = time.time()
    r = broker.work.r
    r.hset(keys.WORK, item.id, item.to_json())
    r.zadd(keys.WORK_SENT, {item.id: now})
    r.delete(keys.WORK_LAYOUT)
    fresh = StateStore(r, queues=broker.broker.queues)
    assert fresh.work.adopt_earlier_layout() == 1
    assert fresh.work.adopt_earlier_layout() == 0
    assert reconcile(fresh, grace=GRACE, lease=LEASE, now=now + GRACE).republished == 1
    assert fresh.broker.queued_ids(QUEUE) == {item.id}


def test_a_long_batch_and_the_reconciler_publish_each_item_once(broker: StateStore) -> None:
    """A stage still sending a long batch when the reconciler finds its tail unpublished past
    the grace: each item is claimed by one publisher, so each message goes once. (Marked only at
    the end of the batch, a feed of 3,000 new links had 2,231 of them fetched twice.)"""
    items = _items(250, "claim")
    now = time.time()
    broker.work.record(items, now)
    # The reconciler comes first for the tail, as it does while a busy worker sends the head.
    done = reconcile(broker, grace=GRACE, lease=LEASE, now=now + GRACE)
    assert done.republished == 250 and len(broker.broker.queued_ids(QUEUE)) == 250
    # The stage's own publish then finds nothing left to send...
    assert publish(broker, items) == 0
    messages = broker.broker.r.llen(QUEUE)
    assert messages == 250
    # ... and a batch claimed in part sends only the rest.
    more = _items(30, "claim-more")
    broker.work.record(more, now)
    assert broker.work.claim_unpublished([i.id for i in more[:10]], now) == {i.id for i in more[:10]}
    assert publish(broker, more) == 20
    assert broker.work.unpublished(now + GRACE) == {}
