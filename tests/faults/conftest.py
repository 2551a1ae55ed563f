"""Fixtures of the fault tests: a redis-server of each test's own, killable and restartable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import harness
from tests.search.noida import free_port


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[harness.RedisServer]:
    server = harness.RedisServer(tmp_path / "redis", free_port()).start()
    yield server
    server.stop()
