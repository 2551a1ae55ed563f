"""Shared fixtures: real Redis (the embedded redis-server), real Celery workers, real HTTP servers.

Services are started by the test session itself, on 127.0.0.1 and unix sockets only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from demo.server import SiteServer
from pipeline.settings import Settings
from workers.runtime import EmbeddedRedis, Runtime, set_runtime
from workers.supervisor import WorkerGroup, WorkerSpec

# No test times anything (benchmarks do): Hypothesis's per-example deadline failed tests on a
# machine whose two cores other test runs share.
hypothesis_settings.register_profile("newsflow", deadline=None)
hypothesis_settings.load_profile("newsflow")

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


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("newsflow-data")


@pytest.fixture(scope="session")
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """The session's Redis; stopped when the session ends (even if a test fails)."""
    server = EmbeddedRedis(data_dir)
    # The Celery app configures itself from the environment on first use: point it here.
    saved = {k: os.environ.get(k) for k in ("REDIS_URL", "NEWSFLOW_DATA_DIR", *WORKER_ENV)}
    os.environ.update({"REDIS_URL": server.url, "NEWSFLOW_DATA_DIR": str(data_dir), **WORKER_ENV})
    yield server.url
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.close()


def make_settings(data_dir: Path, redis_url: str, **extra: object) -> Settings:
    env = {k.removeprefix("NEWSFLOW_").lower(): v for k, v in WORKER_ENV.items()}
    return Settings(data_dir=data_dir, redis_url=redis_url, **{**env, **extra})


@pytest.fixture
def runtime(data_dir: Path, embedded_redis: str) -> Iterator[Runtime]:
    """A Runtime on the session's Redis and data directory, with newsflow's keys cleared."""
    rt = Runtime(make_settings(data_dir, embedded_redis))
    rt.state.clear()
    set_runtime(rt)
    yield rt
    set_runtime(None)
    rt.close()


@pytest.fixture(scope="module")
def workers(data_dir: Path, embedded_redis: str) -> Iterator[WorkerGroup]:
    """Real Celery worker processes for every queue, shared by the tests of one module.

    Module scope lets a module that starts and kills its own workers run with no others
    consuming the queues.
    """
    group = start_workers(data_dir, embedded_redis, "shared")
    yield group
    group.stop()


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


@pytest.fixture
def site(request: pytest.FixtureRequest) -> Iterator[SiteServer]:
    """Serve one fixture site (name from the test's `site_name` param, default courier)."""
    name = getattr(request, "param", "courier")
    with SiteServer(SITES / name) as server:
        yield server
