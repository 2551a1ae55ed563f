"""The command line's shape: both entry points, one module per command group, read commands
that need neither Redis nor Celery."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import NEWSFLOW, UNREACHABLE_REDIS, index_one_article, newsflow, newsflow_env

COMMANDS = ["run", "demo", "search", "export", "explain", "status", "dead-letters", "reprocess", "reindex"]


@pytest.mark.parametrize("entry", [[NEWSFLOW], [sys.executable, "-m", "workers.cli"]])
def test_both_entry_points_list_every_command(entry: list[str], tmp_path: Path) -> None:
    """The console script and `python -m workers.cli` both offer every command."""
    done = subprocess.run([*entry, "--help"], env=newsflow_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for command in [*COMMANDS, "prune-raw", "feeds", "serve"]:
        assert f"    {command}" in done.stdout


def test_no_command_prints_help_and_exits_2(tmp_path: Path) -> None:
    """`newsflow` alone prints the commands and exits with the usage code."""
    done = newsflow([], tmp_path)
    assert done.returncode == 2 and "COMMAND" in done.stdout


def test_search_and_export_read_the_index_without_redis(tmp_path: Path) -> None:
    """With REDIS_URL pointing nowhere, search and export still answer: they never ask Redis."""
    index_one_article(tmp_path)
    found = newsflow(["search", "le hoi", "--json"], tmp_path, REDIS_URL=UNREACHABLE_REDIS)
    assert found.returncode == 0, found.stderr
    assert [h["title"] for h in json.loads(found.stdout)["hits"]] == ["Lễ hội mùa xuân"]
    exported = newsflow(["export"], tmp_path, REDIS_URL=UNREACHABLE_REDIS)
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["title"] for line in exported.stdout.splitlines()] == ["Lễ hội mùa xuân"]


def test_the_command_line_loads_no_runtime_until_a_command_needs_it() -> None:
    """Parsing arguments imports neither Celery, Redis nor the cleaning pipeline."""
    code = (
        "import sys\n"
        "from workers.cli import build_parser\n"
        "build_parser().parse_args(['search', 'x'])\n"
        "heavy = {'celery', 'kombu', 'redis', 'numpy', 'lxml', 'trafilatura', 'httpx'}\n"
        "print(','.join(sorted(n for n in sys.modules if n.split('.')[0] in heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == ""


def test_each_command_group_registers_its_own_commands() -> None:
    """No command is looked up by name: each group module adds its subcommands and handlers."""
    import argparse

    from workers.cli import COMMAND_GROUPS

    for group in COMMAND_GROUPS:
        parser = argparse.ArgumentParser()
        group.register(parser.add_subparsers())
        source = Path(group.__file__ or "").read_text(encoding="utf-8")
        assert "globals()" not in source
    names = [g.__name__.rsplit(".", 1)[1] for g in COMMAND_GROUPS]
    assert names == ["run", "importing", "search", "clean", "ops", "drift", "feeds", "serve"]
