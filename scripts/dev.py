#!/usr/bin/env python3
"""Set up newsflow's virtual environment (when missing or stale), then run a task in it.

    python3 scripts/dev.py demo    the bundled demo, embedded Redis and SQLite
    python3 scripts/dev.py test    lint, type check and the whole test suite (what CI runs)
    python3 scripts/dev.py shell   a shell with the environment active

Needs only Python 3.11+. The environment lives in .venv/ and is rebuilt when
pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("NEWSFLOW_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".newsflow-installed"


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs before any check of the interpreter
        sys.exit(f"newsflow needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    print("installing newsflow and its test tools (first run only)", file=sys.stderr)
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(want)


def run(cmd: list[str]) -> int:
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "help"
    if task not in {"demo", "test", "shell"}:
        print(__doc__)
        return 0 if task in {"help", "-h", "--help"} else 2
    ensure_env()
    if task == "demo":
        return run([str(BIN / "newsflow"), "demo", *argv[1:]])
    if task == "shell":
        env = {**os.environ, "VIRTUAL_ENV": str(VENV), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        return subprocess.run([os.environ.get("SHELL", "/bin/sh")], env=env, cwd=ROOT).returncode
    for step in (
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "mypy")],
    ):
        if run(step):
            return 1
    return run([str(BIN / "python"), "-m", "pytest", *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
