"""Errors an operator meets are one line on stderr and a meaningful exit code, never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline.models import Article, article_id
from pipeline.search.sqlite import SqliteBackend
from tests.cli.helpers import EX_TEMPFAIL, NEWSFLOW, UNREACHABLE_REDIS, index_one_article, newsflow, newsflow_env

pytestmark = pytest.mark.integration


def assert_one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [["status"], ["feeds", "list"], ["dead-letters"], ["reprocess"]],
)
def test_unreachable_redis_is_one_line_naming_it(tmp_path: Path, command: list[str]) -> None:
    """Each command that needs Redis says in one line which Redis does not answer, exit 75."""
    index_one_article(tmp_path)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    command = [str(feeds) if arg == "FEEDS" else arg for arg in command]
    done = newsflow(command, tmp_path, REDIS_URL=UNREACHABLE_REDIS)
    line = assert_one_line(done)
    assert done.returncode == EX_TEMPFAIL
    assert line.startswith("newsflow: Redis at 127.0.0.1:1/0 does not answer") and "REDIS_URL" in line


def test_run_once_without_redis_at_the_start_does_not_wait_its_patience(tmp_path: Path) -> None:
    """A Redis that does not answer when `run` starts is a setting to fix: one line at once, exit 75
    (the patience, here longer than the test's own time limit, is for outages during a run)."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    done = newsflow(
        ["run", "--once", "--feeds", str(feeds)], tmp_path, REDIS_URL=UNREACHABLE_REDIS, NEWSFLOW_REDIS_PATIENCE="3600"
    )
    line = assert_one_line(done)
    assert done.returncode == EX_TEMPFAIL
    assert "Redis at 127.0.0.1:1/0" in line


def test_a_password_in_redis_url_is_not_printed(tmp_path: Path) -> None:
    """The error names the Redis URL with its password masked."""
    done = newsflow(["status"], tmp_path, REDIS_URL="redis://operator:s3cret-word@127.0.0.1:1/0")
    line = assert_one_line(done)
    assert "s3cret-word" not in line and "operator" not in line and "Redis at 127.0.0.1:1/0" in line


def test_an_unreachable_broker_is_one_line_naming_it(tmp_path: Path) -> None:
    """With the queues on a Redis of their own, a broker that does not answer is named (not its
    password), with the setting to check; exit 75."""
    done = newsflow(["status"], tmp_path, NEWSFLOW_BROKER_URL="redis://operator:s3cret-word@127.0.0.1:1/0")
    line = assert_one_line(done)
    assert done.returncode == EX_TEMPFAIL
    assert "the broker's Redis at 127.0.0.1:1/0" in line and "NEWSFLOW_BROKER_URL" in line
    assert "s3cret-word" not in line


def test_status_with_elasticsearch_down_says_so_once(tmp_path: Path) -> None:
    """The rest of the status is still printed; the index size is unknown, said in one warning."""
    done = newsflow(["status"], tmp_path, ELASTICSEARCH_URL="http://127.0.0.1:1", timeout=180)
    assert done.returncode == 0
    assert_one_line(done)
    assert "articles indexed: unknown (search backend does not answer)" in done.stdout


def test_search_with_elasticsearch_down_is_one_line(tmp_path: Path) -> None:
    """search with the search backend down is one line, exit 75."""
    done = newsflow(["search", "mua xuan"], tmp_path, ELASTICSEARCH_URL="http://127.0.0.1:1", timeout=180)
    assert_one_line(done)
    assert done.returncode == EX_TEMPFAIL


@pytest.mark.parametrize(
    ("command", "complaint"),
    [
        (["search", "x", "--limit", "0"], "--limit: '0' is not a whole number from 1 to"),
        (["search", "x", "--limit", "-3"], "--limit: '-3' is not a whole number from 1 to"),
        (["search", "x", "--limit", "many"], "--limit: 'many' is not a whole number"),
        (["serve", "--port", "99999"], "--port: '99999' is not a whole number from 0 to 65535"),
        (["search", "x", "--since", "yesterday"], "'yesterday' is not a date"),
        (["prune", "--older-than", "0"], "--older-than: '0' is not a number of days from 1"),
        (["prune-raw", "--older-than", "soon"], "--older-than: 'soon' is not a number of days from 1"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, command: list[str], complaint: str) -> None:
    """Out-of-range numbers and bad dates are usage errors naming the option, exit 2."""
    done = newsflow(command, tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and complaint in done.stderr


def test_search_limit_is_honoured(tmp_path: Path) -> None:
    """A valid --limit searches normally."""
    index_one_article(tmp_path)
    done = newsflow(["search", "--limit", "1", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"total": 1' in done.stdout


def test_export_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """`newsflow export | head -1`: no "Broken pipe" message; the exit code says SIGPIPE (141)."""
    backend = SqliteBackend(tmp_path / "index.sqlite3")
    for n in range(2000):
        url = f"https://example.org/news/{n}.html"
        backend.index(
            [Article(id=article_id(url), url=url, canonical_url=url, site="example.org", title=f"Story {n}", body="x")]
        )
    backend.close()
    pipeline = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{NEWSFLOW} export | head -1 >/dev/null"],
        env=newsflow_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pipeline.stderr == ""
    assert pipeline.returncode == 141


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("NEWSFLOW_INDEX_BATCH_SIZE", "-1", "NEWSFLOW_INDEX_BATCH_SIZE: input should be greater than or equal to 1"),
        ("NEWSFLOW_MAX_PAGE_BYTES", "-1", "NEWSFLOW_MAX_PAGE_BYTES: input should be greater than or equal to 1"),
        ("NEWSFLOW_TOTAL_TIMEOUT", "-1", "NEWSFLOW_TOTAL_TIMEOUT: input should be greater than 0"),
        ("NEWSFLOW_READ_TIMEOUT", "soon", "NEWSFLOW_READ_TIMEOUT: input should be a valid number"),
        ("NEWSFLOW_FEED_MIN_INTERVAL", "99999", "NEWSFLOW_FEED_MIN_INTERVAL (99999 s) is above"),
        ("REDIS_URL", "localhost", "REDIS_URL: not a URL"),
        ("REDIS_URL", "http://user:secret@redis:6379", "REDIS_URL: http:// is not Redis"),
        ("ELASTICSEARCH_URL", "es-node", "ELASTICSEARCH_URL: not a URL"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path: Path, variable: str, value: str, said: str) -> None:
    """A value a setting cannot take stops every command before it does anything: exit 2, one
    line that names the variable and never echoes the value (it may hold a password)."""
    done = newsflow(["status"], tmp_path, **{variable: value})
    assert done.returncode == 2, done.stderr
    assert_one_line(done)
    assert done.stderr.startswith("newsflow: bad settings: ") and said in done.stderr, done.stderr
    assert "secret" not in done.stderr and "pydantic" not in done.stderr
