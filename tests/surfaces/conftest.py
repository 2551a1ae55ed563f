"""The API under test: a real server on 127.0.0.1 over the session's Redis and a fresh index."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import make_settings
from tests.surfaces.articles import sample_articles
from tests.surfaces.server import ApiServer
from workers.runtime import Runtime


@pytest.fixture(scope="module")
def api_runtime(tmp_path_factory: pytest.TempPathFactory, embedded_redis: str) -> Iterator[Runtime]:
    """A Runtime whose SQLite index holds the sample articles (its own data directory)."""
    data: Path = tmp_path_factory.mktemp("api-data")
    rt = Runtime(make_settings(data, embedded_redis))
    rt.search.index(sample_articles())
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def api(api_runtime: Runtime) -> Iterator[httpx.Client]:
    """An HTTP client on the running API server."""
    with ApiServer(api_runtime) as server, httpx.Client(base_url=server.base, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, installed by this fixture when missing (skips only if it cannot be)."""
    from tests.surfaces.browser import install_chromium

    try:
        return install_chromium()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no headless Chromium for the page tests: {exc}")
