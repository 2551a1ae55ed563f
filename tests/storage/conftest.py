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


def aws_test_env(endpoint: str, scratch: Path) -> dict[str, str]:
    """AWS variables for the local S3 server: dummy credentials, and no file of this machine read."""
    return {
        "AWS_ACCESS_KEY_ID": "newsflow-test",
        "AWS_SECRET_ACCESS_KEY": "newsflow-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def set_aws_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


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
