"""Nothing is lost when a worker, Redis or the search backend dies during `newsflow run --once`.

Each test serves a few hundred distinct articles on six loopback sites, runs the real
command against its own redis-server (append-only, fsync every second), injects one kind of
fault while it runs, and checks that the first run exits 0 with every article indexed
exactly once, no message left unacknowledged and no work left open. `bench/faults.py` runs
the same faults at full size.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import harness
from tests.search.noida import NoidaServer, free_port
from workers.supervisor import WorkerCrashLoop, WorkerGroup, WorkerSpec

pytestmark = pytest.mark.integration
ARTICLES = 240
SITES = 6


@pytest.fixture
def sites() -> Iterator[list[harness.Site]]:
    with harness.serve(harness.make_sites(SITES, ARTICLES)) as served:
        yield served


def assert_nothing_lost(outcome: harness.Outcome) -> None:
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    assert outcome.lost == 0, f"{outcome.lost} article(s) lost; faults: {outcome.faults}"
    assert outcome.duplicated == 0
    assert outcome.unacked == 0, "messages left unacknowledged"
    assert outcome.ledger_open == 0, "work left open in the ledger"


def worker_logs(env: dict[str, str]) -> dict[str, str]:
    """The log of each worker `run` started, by file name."""
    folder = Path(env["NEWSFLOW_DATA_DIR"]) / "logs"
    return {path.name: path.read_text(encoding="utf-8", errors="replace") for path in folder.glob("worker-*.log")}


def test_workers_killed_mid_run_lose_nothing(
    tmp_path: Path, redis_server: harness.RedisServer, sites: list[harness.Site]
) -> None:
    """SIGKILL of the I/O worker and of the cleaning worker's main process: restarted, nothing lost."""
    env = harness.base_env(tmp_path / "data", REDIS_URL=redis_server.url)
    outcome = harness.run_with_faults(sites, tmp_path, env, harness.kill_worker_mains(times=3, every=50))
    assert len(outcome.faults) == 3, outcome.faults
    assert_nothing_lost(outcome)
    assert "worker restarts:   3" in outcome.stdout
    assert "feeds polled:      6 of 6" in outcome.stdout
    # The operator sees the restarts afterwards too.
    status = json.loads(harness.newsflow(["status", "--json"], env).stdout)
    assert status["worker_restarts"] == 3
    assert [e["kind"] for e in status["events"]].count("worker_restarts") == 3


def test_pool_children_killed_lose_nothing(
    tmp_path: Path, redis_server: harness.RedisServer, sites: list[harness.Site]
) -> None:
    """SIGKILL of every cleaning child process, twice: the pool replaces them, nothing lost."""
    env = harness.base_env(tmp_path / "data", REDIS_URL=redis_server.url)
    outcome = harness.run_with_faults(sites, tmp_path, env, harness.kill_pool_children(times=2, every=60))
    assert outcome.faults, "no child was killed"
    assert_nothing_lost(outcome)


def test_redis_killed_and_restarted_loses_nothing(
    tmp_path: Path, redis_server: harness.RedisServer, sites: list[harness.Site]
) -> None:
    """Redis SIGKILLed mid-run and started again 5 s later: the run waits, then finishes everything."""
    env = harness.base_env(tmp_path / "data", REDIS_URL=redis_server.url)
    outcome = harness.run_with_faults(sites, tmp_path, env, harness.kill_redis(redis_server, at=80, down=5.0))
    assert len(outcome.faults) == 2, outcome.faults
    assert_nothing_lost(outcome)
    assert "Redis outages:" in outcome.stdout
    status = json.loads(harness.newsflow(["status", "--json"], env).stdout)
    assert status["redis_outages"] >= 1
    # Logged as an outage: per worker process one warning when it begins, one line when it
    # ends; no traceback (tracebacks are for bugs).
    logs = worker_logs(env)
    assert not [name for name, text in logs.items() if "Traceback" in text]
    begun = [line for text in logs.values() for line in text.splitlines() if "Redis is unavailable" in line]
    # Four processes (the I/O worker, the process worker and its two pool children), one warning
    # each; twice at most, as a process may see Redis answer and drop once more while the
    # restarted server reloads its append-only file. Logged per attempt, it would be about 20.
    assert 1 <= len(begun) <= 8, "\n".join(begun)
    # Each log that says an outage began says it ended. (With state on a cluster the killed Redis
    # is only the broker, and whether the I/O worker meets it at all is timing.)
    unended = [
        name for name, text in logs.items() if "Redis is unavailable" in text and "Redis answers again" not in text
    ]
    # When it fails, say why: a worker restarted by `run` (its exit code is in the run's output)
    # never saw the outage end, and the end of its log shows how it went.
    restarts = [line for line in outcome.stderr.splitlines() if "exited (code" in line]
    tails = {name: logs[name][-2500:] for name in unended}
    assert unended == [], (restarts, tails)


@pytest.mark.skipif(
    not harness.STATE_ON_CLUSTER, reason="kills a node of the state's cluster (NEWSFLOW_TEST_STATE=cluster)"
)
def test_a_cluster_node_killed_and_restarted_loses_nothing(
    tmp_path: Path,
    redis_server: harness.RedisServer,
    state_cluster: harness.RedisClusterServers,
    sites: list[harness.Site],
) -> None:
    """One of the state cluster's three masters SIGKILLed mid-run and started again 5 s later:
    the work on its partitions waits, then everything finishes, once."""
    env = harness.base_env(tmp_path / "data", REDIS_URL=redis_server.url)
    node = state_cluster.nodes[1]
    outcome = harness.run_with_faults(sites, tmp_path, env, harness.kill_redis(node, at=80, down=5.0))
    assert len(outcome.faults) == 2, outcome.faults
    assert_nothing_lost(outcome)
    assert "Redis outages:" in outcome.stdout


@pytest.mark.skipif(bool(os.environ.get("ELASTICSEARCH_URL")), reason="freezes a search backend it starts itself")
def test_search_backend_frozen_then_stopped_loses_nothing(
    tmp_path: Path, redis_server: harness.RedisServer, sites: list[harness.Site]
) -> None:
    """The Elasticsearch stand-in frozen (SIGSTOP) for 10 s, later stopped for 5 s: every article indexed once."""
    noida = NoidaServer(tmp_path / "noida").start()
    try:
        env = harness.base_env(
            tmp_path / "data",
            REDIS_URL=redis_server.url,
            ELASTICSEARCH_URL=noida.url,
            NEWSFLOW_ELASTICSEARCH_INDEX=f"faults-{free_port()}",
        )

        def both(proc, env, log) -> None:  # type: ignore[no-untyped-def]
            harness.freeze(lambda: noida.proc.pid if noida.proc else 0, at=40, seconds=10.0)(proc, env, log)
            harness.stop_and_start(lambda: noida.stop(timeout=120), noida.start, at=150, down=5.0)(proc, env, log)

        outcome = harness.run_with_faults(sites, tmp_path, env, both)
        assert len(outcome.faults) >= 2, outcome.faults
        assert_nothing_lost(outcome)
        # Each of the two outages: one warning when it begins, one line when it ends with the
        # count of what waited; no traceback.
        io_log = worker_logs(env)["worker-io.log"]
        assert "Traceback" not in io_log
        begins = io_log.count("the search backend is unavailable")
        ends = re.findall(r"the search backend answers again after \d+ s; (\d+) index batch\(es\) waited", io_log)
        assert 1 <= begins <= 2 and len(ends) == begins, io_log[-3000:]
        assert all(int(n) >= 1 for n in ends)
    finally:
        noida.stop()


def test_redis_gone_for_good_stops_the_run_with_one_clear_line(
    tmp_path: Path, redis_server: harness.RedisServer, sites: list[harness.Site]
) -> None:
    """Redis killed and never started again: `run --once` waits its patience, then exits 1 saying why."""
    env = harness.base_env(tmp_path / "data", REDIS_URL=redis_server.url, NEWSFLOW_REDIS_PATIENCE="4")

    def kill_for_good(proc, env, log) -> None:  # type: ignore[no-untyped-def]
        if harness.wait_for(proc, env, 20):
            redis_server.kill()
            log.append("killed redis-server for good")

    outcome = harness.run_with_faults(sites, tmp_path, env, kill_for_good, timeout=120)
    assert outcome.faults == ["killed redis-server for good"]
    assert outcome.returncode == 75  # try again later
    last = outcome.stderr.strip().splitlines()[-1]
    assert last.startswith("newsflow: Redis at 127.0.0.1:") and "unavailable for 4 s; stopping" in last
    assert "Traceback" not in outcome.stderr


def test_a_worker_that_keeps_dying_is_restarted_then_given_up(
    tmp_path: Path, redis_server: harness.RedisServer
) -> None:
    """A worker that cannot start is restarted with back-off, and the run gives up after the limit, naming it."""
    group = WorkerGroup(
        redis_server.url,
        tmp_path,
        [WorkerSpec("broken", "fetch", "no-such-pool", 1)],
        tmp_path / "logs",
        restart_limit=3,
    )
    group.start()
    deaths = []
    started = time.monotonic()
    try:
        with pytest.raises(WorkerCrashLoop, match="worker broken died 3 times") as raised:
            while time.monotonic() - started < 60:
                deaths += group.check()
                group.restart_due()
                time.sleep(0.1)
    finally:
        group.stop()
    assert len(deaths) == 2  # restarted twice, given up at the third death
    assert str(tmp_path / "logs" / "worker-broken.log") in str(raised.value)
    assert time.monotonic() - started >= 1 + 2  # the back-off between restarts: 1 s, then 2 s
