"""Helpers the tests share (fixtures live in conftest.py; helpers they call live here).

Where the fixture sites are, the settings every worker of the session runs with, starting
real worker processes, and driving work through them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pipeline.feeds import FeedConfig
from pipeline.settings import Settings
from pipeline.stages import poll_work
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup, WorkerSpec

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SITES = FIXTURES / "sites"

# Settings every worker of the session runs with: local servers allowed, no politeness
# delay (each test uses its own port, so its own host), small caps to test them.
WORKER_ENV = {
    "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "127.0.0.1/32",
    "NEWSFLOW_HOST_DELAY": "0",
    "NEWSFLOW_MAX_PAGE_BYTES": "300000",
    "NEWSFLOW_MAX_RETRIES": "2",
    "NEWSFLOW_RETRY_BACKOFF_MAX": "2",
    "NEWSFLOW_READ_TIMEOUT": "5",
    "NEWSFLOW_TOTAL_TIMEOUT": "10",
}


def make_settings(data_dir: Path, redis_url: str, **extra: object) -> Settings:
    env = {k.removeprefix("NEWSFLOW_").lower(): v for k, v in WORKER_ENV.items()}
    return Settings(data_dir=data_dir, redis_url=redis_url, **{**env, **extra})


def start_workers(data_dir: Path, redis_url: str, name: str, **env: str) -> WorkerGroup:
    specs = [
        WorkerSpec(f"{name}-io", "feeds,fetch,index", "threads", 8),
        WorkerSpec(f"{name}-process", "process", "prefork", 2),
    ]
    group = WorkerGroup(redis_url, data_dir, specs, data_dir / "logs")
    group.start({**WORKER_ENV, **env})
    wait_for_workers(redis_url, len(specs))
    return group


def wait_for_workers(redis_url: str, count: int, timeout: float = 60.0) -> None:
    """Block until `count` workers answer a ping over the broker."""
    from workers.celery_app import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) >= count:
            return
        time.sleep(0.3)
    raise RuntimeError(f"only {len(replies)} of {count} workers answered within {timeout:.0f} s")


def expected_articles(site_name: str) -> list[dict]:
    return json.loads((SITES / site_name / "expected.json").read_text(encoding="utf-8"))["articles"]


def ingest(rt: Runtime, group: WorkerGroup, feeds: list[FeedConfig], timeout: float = 90) -> None:
    submit(rt.state, [poll_work(feed.model_dump(), feed.id, scheduled=False) for feed in feeds])
    assert wait_until_idle(rt, group, timeout), "work still queued after the timeout"


def docs_under(rt: Runtime, base: str) -> list:
    return [a for a in rt.search.iter_all() if a.url.startswith(base)]
