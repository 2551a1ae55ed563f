"""One scheduler per Redis: of two `celery beat`s on one Redis, only the lease holder schedules."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support import WORKER_ENV
from workers.beat import LEASE_TTL
from workers.runtime import Runtime
from workers.supervisor import WorkerGroup, WorkerSpec

pytestmark = pytest.mark.integration
SENT = "Sending due task schedule-due-feeds"
HOLDS = "holds the scheduler lease: scheduling"


def _log(group: WorkerGroup) -> str:
    path = group.log_dir / "worker-beat.log"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} not seen within {timeout:.0f} s"
        time.sleep(0.25)


def test_two_schedulers_on_one_redis_schedule_once(runtime: Runtime, embedded_redis: str, tmp_path: Path) -> None:
    """Two beats (two hosts' data directories, one Redis): one holds the lease and sends the
    due tasks, the other sends none; when the holder stops, the other takes over at once."""
    groups = [
        WorkerGroup(embedded_redis, tmp_path / name, [WorkerSpec("beat", beat=True)], tmp_path / name / "logs")
        for name in ("host-a", "host-b")
    ]
    try:
        for group in groups:
            group.start(dict(WORKER_ENV))
        _wait(lambda: sum(HOLDS in _log(g) for g in groups) == 1, 90, "one lease holder")
        _wait(lambda: all("scheduler lease" in _log(g) for g in groups), 60, "the other standing by")
        leader, other = sorted(groups, key=lambda g: HOLDS not in _log(g))
        assert "stands by" in _log(other)
        _wait(lambda: _log(leader).count(SENT) >= 3, 60, "three rounds of scheduling")
        assert _log(other).count(SENT) == 0, "the scheduler without the lease scheduled too"
        assert runtime.state.scheduler_lease(LEASE_TTL).holder() is not None

        leader.stop()  # gives the lease up on its way out: no wait for the ttl
        _wait(lambda: HOLDS in _log(other), LEASE_TTL / 2, "the other taking over")
        _wait(lambda: _log(other).count(SENT) >= 1, 30, "the other scheduling")
    finally:
        for group in groups:
            group.stop()
        from workers.celery_app import app

        app.control.purge()  # what they scheduled is for no worker of this test
