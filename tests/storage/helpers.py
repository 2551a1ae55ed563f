"""Helpers of the raw-store tests: the AWS environment a test points at the S3 stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest


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
