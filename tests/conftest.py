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
from tests.faults import harness
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
def state_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.RedisClusterServers | None]:
    """With NEWSFLOW_TEST_STATE=cluster, a three-master Redis Cluster for the session's state."""
    if not harness.STATE_ON_CLUSTER:
        yield None
        return
    cluster = harness.RedisClusterServers(tmp_path_factory.mktemp("state-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def embedded_redis(data_dir: Path, state_cluster: harness.RedisClusterServers | None) -> Iterator[str]:
    """The session's Redis (the state's URL: with NEWSFLOW_TEST_STATE=cluster, the cluster's,
    the embedded Redis then being the broker); stopped when the session ends (even if a test fails)."""
    server = EmbeddedRedis(data_dir)
    # The Celery app configures itself from the environment on first use: point it here.
    names = ("REDIS_URL", "NEWSFLOW_REDIS_CLUSTER", "NEWSFLOW_BROKER_URL", "NEWSFLOW_DATA_DIR", *WORKER_ENV)
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({"REDIS_URL": server.url, "NEWSFLOW_DATA_DIR": str(data_dir), **WORKER_ENV})
    state_url = server.url
    if state_cluster is not None:
        harness.CLUSTER = harness.SessionCluster(state_cluster.url, server.url)
        os.environ.update(harness.on_cluster({"REDIS_URL": state_cluster.url}))
        state_url = state_cluster.url
    yield state_url
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
