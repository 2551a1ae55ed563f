"""Headless Chromium for the page tests: Debian's `chromium`, installed on first use when missing.

Playwright drives it through `executable_path`; no browser build is downloaded. The install
needs root and apt (CI runs as root); elsewhere the tests skip, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess

CANDIDATES = ("chromium", "chromium-browser")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def install_chromium(timeout: float = 280.0) -> str:
    """The path of a Chromium binary, installed with apt-get if need be; RuntimeError why not."""
    found = find_chromium()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(
            "chromium is not installed, and installing it needs root and apt-get (apt-get install chromium)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    result = subprocess.run(install, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:  # the package lists may be missing or stale: refresh them once
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=timeout)
        result = subprocess.run(install, env=env, capture_output=True, text=True, timeout=timeout)
    found = find_chromium()
    if result.returncode != 0 or not found:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"apt-get install chromium failed ({last})")
    return found
