"""The commands of the README and the documentation behave as written; the shipped feeds file,
the systemd units and the demo's closing hint work."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.feeds import load_feeds
from pipeline.settings import Settings
from tests.cli.helpers import index_one_article, newsflow, newsflow_env, redis_servers_of
from workers.cli import build_parser
from workers.docgen import env_names

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# The README and every page of the documentation site (the generated references included).
DOCS = [README, *(page.read_text(encoding="utf-8") for page in sorted((ROOT / "docs").rglob("*.md")))]
SYSTEMD = sorted((ROOT / "config" / "systemd").glob("*.service"))


def readme_commands(program: str) -> list[str]:
    """Every line of the shell blocks of the README and the docs that runs `program`, without its comment."""
    lines = []
    blocks = [block for text in DOCS for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith(program + " "):
                lines.append(line)
    return lines


def test_every_newsflow_command_in_the_readme_parses() -> None:
    """Each `newsflow ...` line of the README and the docs is a command and options the parser accepts."""
    commands = readme_commands("newsflow")
    assert len(commands) >= 20
    parser = build_parser()
    for line in commands:
        words = shlex.split(line.split(">", 1)[0])[1:]
        parser.parse_args(words)  # a wrong command or option exits with a usage error


def test_the_readme_quick_start_is_what_ci_runs() -> None:
    """The README's Quick start is the two dev.py commands, and .ci/run runs the second."""
    quick = README[README.index("## Quick start") :]
    first_block = re.search(r"```sh\n(.*?)```", quick, flags=re.S)
    assert first_block is not None
    assert first_block.group(1).splitlines() == ["python3 scripts/dev.py demo", "python3 scripts/dev.py test"]
    assert "python3 scripts/dev.py test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_is_short_and_its_links_lead_somewhere() -> None:
    """Under 150 lines; every relative link names a file of the tree, and the docs pages it
    names are pages of the site (mkdocs.yml's nav)."""
    assert len(README.splitlines()) < 150
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    relative = [link for link in links if "://" not in link]
    assert any(link.startswith("docs/") for link in relative)
    for link in relative:
        assert (ROOT / link).exists(), f"README links to {link}, which does not exist"
        if link.startswith("docs/") and link.endswith(".md"):
            assert link.removeprefix("docs/") in nav, f"README links to {link}, which is not in mkdocs.yml's nav"


def test_the_readme_keeps_its_credits() -> None:
    """The data the cleaner learned from is credited where a newcomer reads first."""
    assert "WCXB by Murrough Foley, CC-BY-4.0" in README
    assert "ScrapingHub" in README and "trafilatura" in README


@pytest.mark.parametrize("unit", SYSTEMD, ids=lambda p: p.name)
def test_systemd_units_run_real_commands_with_real_settings(unit: Path) -> None:
    """Each unit's ExecStart is a `newsflow` command the parser accepts, and each variable it
    sets is a setting (NEWSFLOW_* or one of their other names)."""
    lines = unit.read_text(encoding="utf-8").splitlines()
    starts = [line.removeprefix("ExecStart=") for line in lines if line.startswith("ExecStart=")]
    assert len(starts) == 1
    words = shlex.split(starts[0])
    assert words[0].endswith("/newsflow")
    build_parser().parse_args(words[1:])
    known = {env for name, field in Settings.model_fields.items() for env in env_names(name, field)}
    for line in lines:
        if line.startswith("Environment="):
            name = line.removeprefix("Environment=").split("=", 1)[0]
            assert name in known, f"{unit.name}: {name} is no setting"
    assert any(line == "KillMode=mixed" for line in lines) or "serve" in words


def test_docker_compose_commands_name_real_services() -> None:
    """`docker compose exec SERVICE` in the README and the docs names a service of docker-compose.yml."""
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


def test_the_feeds_files_the_docs_write_load(tmp_path: Path) -> None:
    """Each `cat > feeds.yaml <<'YAML'` of the README and the docs writes a feeds file that loads."""
    written = [m for text in DOCS for m in re.findall(r"cat > feeds\.yaml <<'YAML'\n(.*?)\nYAML\n", text, flags=re.S)]
    assert len(written) >= 2
    for n, body in enumerate(written):
        path = tmp_path / f"feeds{n}.yaml"
        path.write_text(body + "\n", encoding="utf-8")
        feeds = load_feeds(path)
        assert feeds and all(f.url.startswith("https://") for f in feeds)


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
