"""The README's commands behave as written; the shipped feeds file and the demo's closing hint work."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.feeds import load_feeds
from tests.cli.helpers import index_one_article, newsflow, newsflow_env, redis_servers_of
from workers.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands(program: str) -> list[str]:
    """Every line of the README's shell blocks that runs `program`, without its comment."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith(program + " "):
                lines.append(line)
    return lines


def test_every_newsflow_command_in_the_readme_parses() -> None:
    """Each `newsflow ...` line of the README is a command and options the parser accepts."""
    commands = readme_commands("newsflow")
    assert len(commands) >= 5
    parser = build_parser()
    for line in commands:
        words = shlex.split(line.split(">", 1)[0])[1:]
        parser.parse_args(words)  # a wrong command or option exits with a usage error


def test_docker_compose_commands_name_real_services() -> None:
    """`docker compose exec SERVICE` in the README names a service of docker-compose.yml."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    execs = [shlex.split(line) for line in readme_commands("docker") if " exec " in line]
    assert execs
    for words in execs:
        assert words[3] in services, f"{' '.join(words)}: no service {words[3]!r} in docker-compose.yml"


def test_the_shipped_feeds_file_loads_and_its_examples_load_once_uncommented(tmp_path: Path) -> None:
    """config/feeds.yaml loads as it ships (no feeds) and its examples are valid feeds."""
    shipped = ROOT / "config" / "feeds.yaml"
    assert load_feeds(shipped) == []
    text = shipped.read_text(encoding="utf-8")
    example = text[text.index("# feeds:") :]
    uncommented = tmp_path / "feeds.yaml"
    uncommented.write_text("\n".join(line.removeprefix("# ") for line in example.splitlines()) + "\n")
    feeds = load_feeds(uncommented)
    assert len(feeds) >= 3
    assert {f.language for f in feeds} >= {"vi", "en"}
    assert all(f.url.startswith("https://") for f in feeds)


@pytest.mark.integration
def test_reprocess_says_the_pages_wait_for_workers(tmp_path: Path) -> None:
    """reprocess queues the stored pages and says they wait until workers run."""
    index_one_article(tmp_path)
    done = newsflow(["reprocess"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "queued 1 stored page(s)" in done.stdout
    assert "wait in the `process` queue until workers run" in done.stdout and "`newsflow run`" in done.stdout
    status = newsflow(["status", "--json"], tmp_path)
    assert json.loads(status.stdout)["queues"]["process"] == 1


@pytest.mark.integration
def test_demo_hint_runs_as_printed_and_no_redis_is_left(tmp_path: Path) -> None:
    """The demo's closing line is a command a shell runs as it is (PATH need not hold the venv)."""
    demo = newsflow(["demo"], tmp_path, timeout=600)
    assert demo.returncode == 0, demo.stderr
    assert redis_servers_of(tmp_path) == []
    hint = demo.stdout.strip().splitlines()[-1].strip()
    env = newsflow_env(Path("/nonexistent"), PATH="/usr/bin:/bin")
    again = subprocess.run(["sh", "-c", hint], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert "1 result(s)" in again.stdout and "Chính quyền thân thiện" in again.stdout
