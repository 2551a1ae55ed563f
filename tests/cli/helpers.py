"""Helpers of the command-line tests: the installed console script run in a subprocess, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.models import Article, article_id
from pipeline.search.sqlite import SqliteBackend

NEWSFLOW = str(Path(sys.executable).with_name("newsflow"))


def newsflow_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a command on its own data directory: embedded Redis, SQLite."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    for key in ("REDIS_URL", "ELASTICSEARCH_URL"):
        env.pop(key, None)
    env.update(NEWSFLOW_DATA_DIR=str(data_dir), NEWSFLOW_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32", NEWSFLOW_HOST_DELAY="0")
    env.update(extra)
    return env


def newsflow(args: list[str], data_dir: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEWSFLOW, *args], env=newsflow_env(data_dir, **env), capture_output=True, text=True, timeout=timeout
    )


def start_newsflow(args: list[str], data_dir: Path) -> subprocess.Popen[str]:
    """A long-running command (serve, run) in the background; its stderr readable as text."""
    return subprocess.Popen(
        [NEWSFLOW, *args], env=newsflow_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def redis_servers_of(data_dir: Path) -> list[int]:
    """Pids of redis-server processes working in `data_dir` (Redis works in its data folder)."""
    if not Path("/proc/self/cwd").exists():
        pytest.skip("finding processes by their folder needs /proc")
    root = str(data_dir.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if name.startswith("redis-server") and (cwd == root or cwd.startswith(root + os.sep)):
            found.append(int(entry.name))
    return found


UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
EX_TEMPFAIL = 75


def index_one_article(
    data_dir: Path,
    url: str = "https://example.org/tin/le-hoi-mua-xuan.html",
    title: str = "Lễ hội mùa xuân",
    body: str = "Người dân nô nức trẩy hội mùa xuân.",
) -> None:
    """An index holding one article with a stored page reference (what `reprocess` queues)."""
    backend = SqliteBackend(data_dir / "index.sqlite3")
    backend.index(
        [
            Article(
                id=article_id(url),
                url=url,
                canonical_url=url,
                site="example.org",
                title=title,
                body=body,
                language="vi",
                raw_ref="ab" * 32,
            )
        ]
    )
    backend.close()


def wait_for(predicate: object, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(0.1)


def workers_of(data_dir: Path) -> list[int]:
    """Pids of Celery worker processes started for `data_dir` (found by their environment)."""
    marker = f"NEWSFLOW_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and b"celery" in (entry / "cmdline").read_bytes()
                and marker in (entry / "environ").read_bytes().split(b"\0")
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
