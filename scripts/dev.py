#!/usr/bin/env python3
"""Set up newsflow's virtual environment (when missing or stale), then run a task in it.

    python3 scripts/dev.py demo    the bundled demo, on the embedded Redis and search index
    python3 scripts/dev.py test    lint, type check, the documentation build and the whole test suite
                                   (what CI runs)
    python3 scripts/dev.py docs    write the generated reference pages, then serve the documentation
                                   site on http://127.0.0.1:8100 (`docs --generate`: only write them)
    python3 scripts/dev.py shell   a shell with the environment active
    python3 scripts/dev.py lock    resolve pyproject.toml into the lock files (with hashes),
                                   keeping the locked versions that still fit; `lock --upgrade`
                                   takes the newest releases; commit them once the tests pass

Needs only Python 3.11+. The environment lives in .venv/ (or NEWSFLOW_VENV) and installs
the exact versions of requirements-dev.lock, checked against their hashes; it is built
again from scratch when pyproject.toml or the lock changes. NEWSFLOW_UNLOCKED=1 installs
the newest releases instead, to try them before locking them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("NEWSFLOW_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".newsflow-installed"
LOCK = ROOT / "requirements.lock"  # what newsflow runs with (the Docker image)
DEV_LOCK = ROOT / "requirements-dev.lock"  # that, plus the test and lint tools
UV = "uv>=0.5,<1"  # resolves the lock files; installed into the environment on demand


def unlocked() -> bool:
    return os.environ.get("NEWSFLOW_UNLOCKED", "") not in {"", "0"}


def fingerprint(sources: list[Path], newest: bool) -> str:
    """What the environment was built from: the files' contents and the mode."""
    digest = hashlib.sha256(b"unlocked" if newest else b"locked")
    for source in sources:
        digest.update(source.read_bytes() if source.exists() else b"")
    return digest.hexdigest()


def fresh_venv() -> None:
    """An empty environment at VENV: a previous one is removed, never a folder of other files."""
    if VENV.exists() and any(VENV.iterdir()):
        if not (VENV / "pyvenv.cfg").exists():
            sys.exit(f"{VENV} holds files but no virtual environment; point NEWSFLOW_VENV at an empty folder")
        shutil.rmtree(VENV)
    print(f"creating {VENV}", file=sys.stderr)
    venv.create(VENV, with_pip=True)


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs before any check of the interpreter
        sys.exit(f"newsflow needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    want = fingerprint([ROOT / "pyproject.toml", DEV_LOCK], unlocked())
    if STAMP.exists() and STAMP.read_text() == want:
        return
    if not unlocked() and not DEV_LOCK.exists():
        sys.exit(f"{DEV_LOCK.name} is missing: run `python3 scripts/dev.py lock`, or set NEWSFLOW_UNLOCKED=1")
    fresh_venv()
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    if unlocked():
        print("installing newsflow with the newest releases (NEWSFLOW_UNLOCKED)", file=sys.stderr)
        subprocess.run(
            [*pip, "install", "--upgrade", "--upgrade-strategy", "eager", "-e", f"{ROOT}[test,docs]"], check=True
        )
    else:
        print(f"installing newsflow and its test tools from {DEV_LOCK.name}", file=sys.stderr)
        subprocess.run([*pip, "install", "--require-hashes", "--no-deps", "-r", str(DEV_LOCK)], check=True)
        subprocess.run([*pip, "install", "--no-deps", "-e", str(ROOT)], check=True)
        if subprocess.run([*pip, "check"]).returncode:
            sys.exit(f"{DEV_LOCK.name} does not satisfy pyproject.toml: run `python3 scripts/dev.py lock`")
    STAMP.write_text(want)


def lock(upgrade: bool = False) -> int:
    """Resolve both lock files for every platform and Python 3.11+, with hashes; the runtime
    lock is held to the versions of the dev lock, so the image runs what the tests ran."""
    if not (BIN / "python").exists():
        fresh_venv()
    subprocess.run([str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q", "install", UV], check=True)
    compile_ = [
        str(BIN / "uv"),
        "pip",
        "compile",
        "pyproject.toml",
        "--universal",
        "--python-version",
        "3.11",
        "--generate-hashes",
        *(["--upgrade"] if upgrade else []),
        "--quiet",
        "--custom-compile-command",
        "python3 scripts/dev.py lock",
    ]
    for cmd in (
        [*compile_, "--extra", "test", "--extra", "docs", "-o", DEV_LOCK.name],
        [*compile_, "--constraints", DEV_LOCK.name, "-o", LOCK.name],
    ):
        if subprocess.run(cmd, cwd=ROOT).returncode:
            return 1
    print(f"wrote {LOCK.name} and {DEV_LOCK.name}; the next task rebuilds the environment from them", file=sys.stderr)
    return 0


def run(cmd: list[str]) -> int:
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "help"
    if task not in {"demo", "test", "docs", "shell", "lock"}:
        print(__doc__)
        return 0 if task in {"help", "-h", "--help"} else 2
    if task == "lock":
        return lock(upgrade="--upgrade" in argv[1:])
    ensure_env()
    # Material prints a notice of its successor on every build; the docs are pinned, so it is noise.
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    if task == "demo":
        return run([str(BIN / "newsflow"), "demo", *argv[1:]])
    if task == "docs":
        if run([str(BIN / "python"), "-m", "workers.docgen"]):
            return 1
        if "--generate" in argv[1:]:
            return 0
        return run([str(BIN / "mkdocs"), "serve", *argv[1:]])
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
    with tempfile.TemporaryDirectory(prefix="newsflow-site-") as site:  # the built site is not kept
        if run([str(BIN / "mkdocs"), "build", "--strict", "--quiet", "--site-dir", site]):
            return 1
    return run([str(BIN / "python"), "-m", "pytest", *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
