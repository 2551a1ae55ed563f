"""Shared fixtures: real Redis (the embedded redis-server), real Celery workers, real HTTP servers.

Services are started by the test session itself, on 127.0.0.1 and unix sockets only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from demo.server import SiteServer
from tests.support import SITES, WORKER_ENV, make_settings, start_workers
from workers.embedded import EmbeddedRedis
from workers.runtime import Runtime, set_runtime
from workers.supervisor import WorkerGroup

# No test times anything (benchmarks do): Hypothesis's per-example deadline failed tests on a
# machine whose two cores other test runs share.
hypothesis_settings.register_profile("newsflow", deadline=None)
hypothesis_settings.load_profile("newsflow")


@pytest.fixture(autouse=True)
def _environment_kept_per_test() -> Iterator[None]:
    """What a test sets in the environment (NEWSFLOW_*, REDIS_URL...) ends with it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


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


@pytest.fixture
def site(request: pytest.FixtureRequest) -> Iterator[SiteServer]:
    """Serve one fixture site (name from the test's `site_name` param, default courier)."""
    name = getattr(request, "param", "courier")
    with SiteServer(SITES / name) as server:
        yield server
