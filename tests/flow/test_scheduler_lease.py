"""One scheduler per Redis: of two `celery beat`s on one Redis, only the lease holder schedules."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline import scheduling
from pipeline.feeds import FeedConfig
from tests.feeds.helpers import FeedRoute, rss
from tests.support import WORKER_ENV, start_workers
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


def _beats(redis_url: str, root: Path) -> list[WorkerGroup]:
    """Two schedulers, as on two hosts: each its own data directory, one Redis."""
    return [
        WorkerGroup(redis_url, root / name, [WorkerSpec("beat", beat=True)], root / name / "logs")
        for name in ("host-a", "host-b")
    ]


def test_two_schedulers_on_one_redis_schedule_once(runtime: Runtime, embedded_redis: str, tmp_path: Path) -> None:
    """Two beats (two hosts' data directories, one Redis): one holds the lease and sends the
    due tasks, the other sends none; when the holder stops, the other takes over at once."""
    groups = _beats(embedded_redis, tmp_path)
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


def test_two_schedulers_poll_each_feed_once_per_interval(
    runtime: Runtime, data_dir: Path, embedded_redis: str, tmp_path: Path
) -> None:
    """With two schedulers on one Redis and workers polling, a feed due every 5 s (at least)
    is polled once per interval: no two polls closer than the interval allows."""
    interval = 5.0
    route = FeedRoute(body=rss("http://127.0.0.1", [("a.html", "a")]))
    beats = _beats(embedded_redis, tmp_path)
    workers = start_workers(data_dir, embedded_redis, "lease", NEWSFLOW_FEED_MIN_INTERVAL=str(interval))
    try:
        with SiteServer(tmp_path, routes={"/feed.xml": route}) as server:
            feed = FeedConfig(url=f"{server.base}/feed.xml", interval=interval)
            scheduling.register_feeds(runtime.state, [feed], time.time())
            for group in beats:
                group.start(dict(WORKER_ENV))
            _wait(lambda: len(route.hits) >= 3, 120, "three polls of the feed")
        polls = sorted(hit.at for hit in route.hits)
        gaps = [b - a for a, b in itertools.pairwise(polls)]
        # A poll is scheduled on a 5 s tick; a second scheduler would have added polls in between.
        assert min(gaps) >= interval - 1.0, gaps
    finally:
        for group in beats:
            group.stop()
        workers.stop()
        from workers.celery_app import app

        app.control.purge()
