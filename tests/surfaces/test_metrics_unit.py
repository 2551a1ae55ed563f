"""Metrics plumbing that needs no services: which worker directories count, how Redis counters read."""

from __future__ import annotations

import fcntl
from pathlib import Path

from prometheus_client.core import CounterMetricFamily

from workers.metrics import LOCK_FILE, event_counters, worker_dirs


def test_only_directories_whose_lock_is_held_count_as_live(tmp_path: Path) -> None:
    """A worker directory whose lock nobody holds is dead; one without a lock file is neither."""
    live_dir, dead_dir = tmp_path / "io-1", tmp_path / "io-2"
    for d in (live_dir, dead_dir):
        d.mkdir()
        (d / LOCK_FILE).touch()
    (tmp_path / "setting-up").mkdir()
    with open(live_dir / LOCK_FILE, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert worker_dirs(tmp_path) == ([live_dir], [dead_dir])
    assert worker_dirs(tmp_path) == ([], [live_dir, dead_dir])


def test_redis_counters_become_outcome_counters() -> None:
    """indexed, failed, retried and dropped:<reason> map to their own counters; every event stays."""
    stats = {
        "indexed": 7,
        "index_batches": 2,
        "failed": 2,
        "retried": 3,
        "dropped:not_article": 4,
        "dropped:too_short": 1,
        "fetched": 9,
    }
    families = {f.name: f for f in event_counters(stats, CounterMetricFamily)}
    assert families["newsflow_indexed"].samples[0].value == 7
    assert families["newsflow_index_batches"].samples[0].value == 2
    assert families["newsflow_dead_lettered"].samples[0].value == 2
    assert families["newsflow_retried"].samples[0].value == 3
    dropped = {s.labels["reason"]: s.value for s in families["newsflow_dropped"].samples}
    assert dropped == {"not_article": 4, "too_short": 1}
    assert {s.labels["event"] for s in families["newsflow_events"].samples} == set(stats)
