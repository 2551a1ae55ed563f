"""The long-running side of `newsflow run`: start workers, poll feeds, wait, stop.

The command line parses arguments and prints; this module owns the orchestration, so the
supervision of worker processes and the waits through a Redis outage live in one place.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from pipeline import ingest, scheduling
from pipeline.errors import TransientError
from pipeline.feeds import FeedConfig
from pipeline.settings import Settings
from workers.runtime import Runtime

log = logging.getLogger("newsflow")


def run_pipeline(
    rt: Runtime,
    feeds: list[FeedConfig],
    *,
    once: bool,
    timeout: float = 1800.0,
    on_start: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Start workers, poll feeds (once, or on schedule until a signal), stop workers."""
    from workers import tasks
    from workers.supervisor import WorkerGroup, default_workers, wait_until_idle

    settings = rt.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    before = rt.state.stats()
    size_before = index_size(rt)
    scheduling.register_feeds(rt.state, feeds, time.time())
    group = WorkerGroup(rt.redis_url, settings.data_dir, default_workers(), settings.data_dir / "logs")
    group.start(_worker_env(settings))
    started = time.monotonic()
    try:
        if on_start:
            on_start()
        # Articles an earlier run left waiting for the search backend go first.
        tasks.sweep_pending.delay()
        if once:
            for feed in feeds:
                tasks.poll.delay(feed.model_dump(), reschedule=False)
            if not wait_until_idle(rt.redis, group, timeout):
                raise RuntimeError(f"work still queued after {timeout:.0f} s; see `newsflow status`")
        else:
            _schedule_forever(rt)
    finally:
        group.stop()
    after = rt.state.stats()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return {
        "feeds": len(feeds),
        "seconds": round(time.monotonic() - started, 2),
        "stats": {k: v for k, v in sorted(delta.items()) if v},
        "index_size": (size := index_size(rt)),
        "new_articles": size - size_before if size is not None and size_before is not None else None,
        "pending": ingest.pending_count(rt.state),
        "dead_letters": rt.state.dead_count(),
    }


def index_size(rt: Runtime) -> int | None:
    """Articles in the search index; None while the backend does not answer (the run goes
    on: articles wait in Redis until it is back)."""
    try:
        return rt.search.count()
    except TransientError as exc:
        log.warning("%s", exc)
        return None


def _worker_env(settings: Settings) -> dict[str, str]:
    # Settings given to this process by flags or overrides travel to the workers by environment.
    env = {
        "NEWSFLOW_HOST_DELAY": repr(settings.host_delay),
        "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": settings.allow_private_networks,
        "NEWSFLOW_VISIBILITY_TIMEOUT": str(settings.visibility_timeout),
    }
    if settings.elasticsearch_url:
        env["ELASTICSEARCH_URL"] = settings.elasticsearch_url
    return env


def _schedule_forever(rt: Runtime) -> None:
    from workers import tasks
    from workers.celery_app import SWEEP_INTERVAL

    stop = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print("newsflow: running; Ctrl-C stops", file=sys.stderr)
    next_sweep = time.monotonic() + SWEEP_INTERVAL
    while not stop:
        for feed in scheduling.claim_due(rt.state, time.time()):
            tasks.poll.delay(feed.model_dump())
        if time.monotonic() >= next_sweep:
            tasks.sweep_pending.delay()
            next_sweep = time.monotonic() + SWEEP_INTERVAL
        time.sleep(1.0)


def print_summary(summary: dict[str, Any]) -> None:
    stats = summary["stats"]
    dropped = {k.split(":", 1)[1]: v for k, v in stats.items() if k.startswith("dropped:")}
    removed = {k.split(":", 1)[1]: v for k, v in stats.items() if k.startswith("removed:")}
    print(f"feeds polled:      {stats.get('feeds_polled', 0)} of {summary['feeds']}")
    print(f"new article URLs:  {stats.get('urls_queued', 0)}")
    print(f"pages fetched:     {stats.get('fetched', 0)}")
    writes = stats.get("indexed", 0)
    if summary["index_size"] is None:
        print(f"articles indexed:  unknown: the search backend does not answer ({writes} writes)")
    else:
        print(
            f"articles indexed:  {summary['new_articles']} new (index holds {summary['index_size']}; "
            f"{writes} writes, re-cleaned pages included)"
        )
    if summary["pending"]:
        print(
            f"waiting to index:  {summary['pending']} (kept in Redis until the search backend takes them; "
            "the scheduler sweeps every minute, and the next run starts with them)"
        )
    print(f"near-duplicates:   {stats.get('near_duplicates', 0)}")
    print("dropped:           " + (", ".join(f"{k} {v}" for k, v in sorted(dropped.items())) or "none"))
    print("blocks removed:    " + (", ".join(f"{k} {v}" for k, v in sorted(removed.items())) or "none"))
    print(f"failed:            {stats.get('failed', 0)} (dead letters: {summary['dead_letters']})")
    print(f"took:              {summary['seconds']} s")
