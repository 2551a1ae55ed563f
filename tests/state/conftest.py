"""Fixtures of the state tests that use the broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.state import StateStore
from tests.state.kombu_support import purge
from workers.celery_app import app
from workers.runtime import Runtime


@pytest.fixture
def broker(runtime: Runtime) -> Iterator[StateStore]:
    """The runtime's state, with every queue of the session's broker emptied first and after."""
    with app.connection_for_write() as conn:
        purge(conn)
        yield runtime.state
        purge(conn)
