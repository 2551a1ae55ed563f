"""`newsflow run --once` with the broker on one redis-server and the state on another
(`NEWSFLOW_BROKER_URL` and `REDIS_URL`): every article flows through, each Redis holds only
its own keys, and a message the broker loses mid-run is published again by the reconciler."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.state import connect
from pipeline.state.client import text
from tests.faults import harness
from tests.search.noida import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def two_redis(tmp_path: Path) -> Iterator[tuple[harness.RedisServer, harness.RedisServer]]:
    state = harness.RedisServer(tmp_path / "state-redis", free_port()).start()
    broker = harness.RedisServer(tmp_path / "broker-redis", free_port()).start()
    try:
        yield state, broker
    finally:
        state.stop()
        broker.stop()


def drop_one_fetch(broker_url: str) -> harness.Fault:
    """Take one waiting message off the broker's `fetch` queue, as a broker losing it would."""

    def fault(proc: subprocess.Popen[str], env: dict[str, str], log: list[str]) -> None:
        client = connect(broker_url)
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                raw = client.lpop("fetch")  # the newest: the one a worker would take last
                if raw is not None:
                    log.append(json.loads(raw)["headers"]["id"])
                    return
                time.sleep(0.005)
        finally:
            client.close()

    return fault


def key_names(url: str) -> list[str]:
    client = connect(url)
    try:
        return [text(k) for k in client.scan_iter(count=1000)]
    finally:
        client.close()


def test_articles_flow_with_the_broker_apart_and_a_lost_message_comes_back(
    tmp_path: Path, two_redis: tuple[harness.RedisServer, harness.RedisServer]
) -> None:
    state, broker = two_redis
    env = harness.base_env(tmp_path / "data", REDIS_URL=state.url, NEWSFLOW_BROKER_URL=broker.url)
    with harness.serve(harness.make_sites(3, 60)) as sites:
        outcome = harness.run_with_faults(sites, tmp_path, env, drop_one_fetch(broker.url), timeout=300)
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    assert len(outcome.faults) == 1, "no fetch message was ever waiting to be dropped"
    # The dropped fetch was published again (nothing else would fetch its page).
    assert outcome.lost == 0 and outcome.duplicated == 0
    assert outcome.unacked == 0 and outcome.ledger_open == 0

    state_keys, broker_keys = key_names(state.url), key_names(broker.url)
    assert state_keys and all(k.startswith("nf:") for k in state_keys), sorted(state_keys)[:20]
    assert any(k.startswith("_kombu.binding.") for k in broker_keys), broker_keys
    assert not [k for k in broker_keys if k.startswith("nf:")], broker_keys
    status = json.loads(harness.newsflow(["status", "--json"], env).stdout)
    assert status["queues"] == {"feeds": 0, "fetch": 0, "process": 0, "index": 0} and status["in_flight"] == 0
    # The reconciler found the dropped message by reading the broker's queues: it published that
    # one again, not every item it could not see (as it would reading the state's Redis).
    assert 1 <= status["stats"].get("work_published_again", 0) <= 3, status["stats"]
