"""The `newsflow` command as an operator runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
