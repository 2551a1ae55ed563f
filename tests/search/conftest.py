"""Backends for the contract suite: SQLite on a temporary file, Elasticsearch on noida-db.

With ELASTICSEARCH_URL set, the Elasticsearch tests use that cluster instead (credentials from
the usual NEWSFLOW_ELASTICSEARCH_* settings), each test on its own uniquely named index,
deleted afterwards. Otherwise the session starts one noida-db on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipeline.search.elastic import ElasticsearchBackend
from tests.search import noida

_names = itertools.count(1)


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the Elasticsearch the session tests against: ELASTICSEARCH_URL, else noida-db."""
    real = os.environ.get("ELASTICSEARCH_URL")
    if real:
        yield real
        return
    server = noida.NoidaServer(tmp_path_factory.mktemp("noida") / "data").start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def es_session_prefix() -> str:
    return f"newsflow-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_es_backend(es_url: str, es_session_prefix: str) -> Iterator[Callable[..., ElasticsearchBackend]]:
    """Factory of backends on fresh, uniquely named indices, all dropped after the test."""
    made: list[ElasticsearchBackend] = []

    def make(url: str | None = None, **kwargs: Any) -> ElasticsearchBackend:
        kwargs.setdefault("index", f"{es_session_prefix}-{next(_names)}")
        kwargs.setdefault("refresh", True)  # the contract expects reads to see the last write
        kwargs.setdefault("backoff", 0.05)
        if url is None and os.environ.get("ELASTICSEARCH_URL"):
            from pipeline.settings import Settings

            backend = ElasticsearchBackend.from_settings(Settings.load(), **kwargs)
        else:
            backend = ElasticsearchBackend(url or es_url, **kwargs)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        # A test may have stopped its server on purpose: cleanup does what it can.
        with contextlib.suppress(Exception):
            backend.drop()
        backend.close()
