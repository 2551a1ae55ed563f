"""Figures as Markdown fragments for the documentation, with where and when they were measured.

A benchmark given `--markdown FILE` writes its table there with one line of provenance (the
command, the date, the commit, the machine and its load), and the documentation includes the
file (`docs/figures/`, through the snippets extension): a figure on the site is one that a
script printed, never one typed in.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {head}" + (" with uncommitted changes" if dirty else "")


def _memory_gib() -> str:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return "memory unknown"
    return f"{pages * size / 2**30:.0f} GiB"


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


class Provenance:
    """Started with the benchmark, so the load average is read at its start and at its end."""

    def __init__(self, argv: Sequence[str] | None = None) -> None:
        argv = sys.argv if argv is None else argv
        script = Path(argv[0])
        shown = script.relative_to(ROOT) if script.is_absolute() and script.is_relative_to(ROOT) else script
        self.command = shlex.join([".venv/bin/python", str(shown), *argv[1:]])
        self.started = datetime.now(UTC)
        self.load_at_start = _load()

    def line(self) -> str:
        """One sentence: what ran, when, on what, under which load."""
        machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {_memory_gib()}"
        python = f"Python {platform.python_version()}"
        return (
            f"Measured by `{self.command}` on {self.started:%Y-%m-%d} ({self.started:%H:%M} UTC), "
            f"{_commit()}; {machine}, {python}; load average {self.load_at_start} at the start, "
            f"{_load()} at the end."
        )


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; a cell's `|` is escaped so it cannot split the row."""

    def row(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |\n"

    for cells in rows:
        if len(cells) != len(header):
            raise ValueError(f"a row of {len(cells)} cells under a header of {len(header)}: {cells!r}")
    return row(header) + row(["---"] * len(header)) + "".join(row(r) for r in rows)


def write_fragment(path: Path, provenance: Provenance, tables: Sequence[str], notes: str = "") -> None:
    """Write the tables, a note and the provenance line to `path` (created with its folder)."""
    parts = [*tables, *([notes.strip() + "\n"] if notes.strip() else []), provenance.line() + "\n"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
