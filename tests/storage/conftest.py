"""A real S3 API for the raw-store tests: moto's server on 127.0.0.1, started once per session.

The AWS_* variables point at it for one test at a time (dummy credentials; no profile, no
config file of the machine is read), so nothing else in the session sees them.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.search.noida import free_port
from tests.storage.helpers import aws_test_env, set_aws_env


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        pass
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The standard AWS variables of a client of the local S3 server, set for this test only."""
    env = aws_test_env(s3_endpoint, tmp_path)
    set_aws_env(monkeypatch, env)
    return env


@pytest.fixture
def s3(aws_env: dict[str, str]) -> Any:
    from pipeline.storage import s3_client

    return s3_client()


@pytest.fixture
def bucket(s3: Any) -> str:
    """A new, empty bucket for one test."""
    name = f"newsflow-raw-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
