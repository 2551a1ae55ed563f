"""Fixtures of the fault tests: a redis-server of each test's own, killable and restartable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.state import StateStore
from tests.faults import harness
from tests.search.noida import free_port


@pytest.fixture
def redis_server(tmp_path: Path, state_cluster: harness.RedisClusterServers | None) -> Iterator[harness.RedisServer]:
    """A redis-server of the test's own: its state and broker (with NEWSFLOW_TEST_STATE=cluster,
    its broker, the state going to the session's cluster, emptied first)."""
    server = harness.RedisServer(tmp_path / "redis", free_port()).start()
    if state_cluster is not None:
        if harness.CLUSTER is None:
            harness.CLUSTER = harness.SessionCluster(state_cluster.url, server.url)
        store = StateStore.from_url(state_cluster.url, cluster=True)
        try:
            store.clear()
        finally:
            store.close()
    yield server
    server.stop()
