"""The broker's queues on a Redis of their own (`NEWSFLOW_BROKER_URL`): the state layer reads
the ledger on the state's Redis and the queues and held messages on the broker's, and the
reconciler's snapshot and audit put the two together."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.delivery import Inspect, Publish, plan, plan_audit
from pipeline.stages import QUEUES, fetch_work
from pipeline.state import StateStore, connect
from pipeline.state.client import text
from tests.faults.harness import RedisServer
from tests.search.noida import free_port
from tests.state.kombu_support import QUEUE, take
from workers.celery_app import app
from workers.runtime import Runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def apart(tmp_path: Path, runtime: Runtime) -> Iterator[tuple[StateStore, str, str]]:
    """A store whose state is on one fresh redis-server and whose broker is on another."""
    state = RedisServer(tmp_path / "state", free_port()).start()
    broker = RedisServer(tmp_path / "broker", free_port()).start()
    store = StateStore.from_url(state.url, broker.url, queues=QUEUES)
    try:
        yield store, state.url, broker.url
    finally:
        store.close()
        state.stop()
        broker.stop()


def key_names(url: str) -> list[str]:
    client = connect(url)
    try:
        return sorted(text(k) for k in client.scan_iter(count=1000))
    finally:
        client.close()


def test_the_reconciler_reads_queues_and_held_messages_on_the_brokers_redis(apart: tuple[StateStore, str, str]) -> None:
    """Three items recorded on the state's Redis and published to the broker's, one taken by a
    consumer: the snapshot counts them where each lives, and a message the broker then loses
    is found by counting and auditing, and published again."""
    store, state_url, broker_url = apart
    items = [fetch_work(f"http://127.0.0.1/apart/{i}") for i in range(3)]
    now = time.time()
    store.work.record(items, now)
    with app.connection_for_write(broker_url) as conn:
        for item in items:
            app.send_task(item.task, kwargs=item.kwargs, task_id=item.id, connection=conn)
        store.work.mark_sent([i.id for i in items], now)
        taken = take(conn)
        taken_id = taken.headers["id"]

        snap = store.delivery_snapshot(now + 1, grace=20, lease=300)
        assert snap.live["fetch"] == 3
        assert snap.waiting["fetch"] == 2
        assert [m.task_id for m in snap.held] == [taken_id]
        assert set(snap.carrying) == {taken_id}
        assert not plan(snap).of(Inspect)
        assert store.broker.depths()["fetch"] == 2 and store.broker.in_flight() == 1

        # Kombu's keys are on the broker's Redis alone, newsflow's on the state's alone.
        state_keys = key_names(state_url)
        assert state_keys and all(k.startswith("nf:") for k in state_keys), state_keys
        broker_keys = key_names(broker_url)
        assert QUEUE in broker_keys and not [k for k in broker_keys if k.startswith("nf:")], broker_keys

        lost = store.broker.r.rpop(QUEUE)
        assert lost is not None
        snap = store.delivery_snapshot(now + 30, grace=20, lease=300)
        assert plan(snap).of(Inspect) == [Inspect("fetch", 1)]
        audit = plan_audit(store.delivery_audit("fetch", now + 30, grace=20))
        lost_id = ({i.id for i in items} - {taken_id} - store.broker.queued_ids(QUEUE)).pop()
        assert audit.of(Publish) == [Publish(lost_id, "lost")]
