"""The command line as an operator uses it: `run --once` on a new site, then export and status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from demo.server import SiteServer
from tests.cli.helpers import index_one_article
from tests.search.noida import free_port
from tests.support import SITES

pytestmark = pytest.mark.integration


def newsflow(args: list[str], data_dir: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL"}}
    env.update(
        NEWSFLOW_DATA_DIR=str(data_dir),
        NEWSFLOW_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32",
        NEWSFLOW_HOST_DELAY="0",
    )
    if os.environ.get("ELASTICSEARCH_URL"):
        env["ELASTICSEARCH_URL"] = os.environ["ELASTICSEARCH_URL"]
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_run_once_ingests_a_new_site_and_export_shows_clean_bodies(tmp_path: Path) -> None:
    """`newsflow run --feeds FILE --once` then `newsflow export`: every article, teaser-free."""
    expected = json.loads((SITES / "songhong/expected.json").read_text(encoding="utf-8"))["articles"]
    with SiteServer(SITES / "songhong") as server:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {server.base}/feed.xml\n    site: songhong\n    language: vi\n")
        data = tmp_path / "data"
        run = newsflow(["run", "--feeds", str(feeds), "--once", "--timeout", "120"], data)
        assert run.returncode == 0, run.stderr
        assert f"articles indexed:  {len(expected)}" in run.stdout
        assert "failed:            0" in run.stdout
    export = newsflow(["export"], data)
    assert export.returncode == 0, export.stderr
    docs = [json.loads(line) for line in export.stdout.splitlines()]
    assert sorted(d["title"] for d in docs) == sorted(a["title"] for a in expected)
    fields = {"id", "url", "canonical_url", "site", "title", "body", "authors", "published_at", "language", "related"}
    by_title = {d["title"]: d for d in docs}
    for art in expected:
        doc = by_title[art["title"]]
        assert fields <= doc.keys()
        assert doc["body"].split("\n\n") == art["body"]  # every paragraph, once, in order, nothing else
        assert len(doc["captions"]) == 1  # the figure's caption, kept once, apart from the body
        assert "Cùng chủ đề" not in doc["body"] and "Tin mới nhất" not in doc["body"]
        assert "Nguồn:" not in doc["body"]
        assert doc["language"] == "vi" and doc["site"] == "songhong"
        assert len(doc["related"]) == len(expected) - 1
    status = newsflow(["status", "--json"], data)
    report = json.loads(status.stdout)
    assert report["articles_indexed"] == len(expected)
    assert report["queues"] == {"feeds": 0, "fetch": 0, "process": 0, "index": 0}
    assert report["feeds"][0]["health"] == "ok"
    assert report["seen_urls"] >= len(expected) and report["redis_memory_bytes"] > 0
    plain = newsflow(["status"], data).stdout  # a pipe: plain lines
    assert "Redis memory: " in plain and f"({report['seen_urls']:,} URLs seen within the retention)" in plain
    explain = newsflow(["explain", by_title[expected[0]["title"]]["url"]], data)
    assert explain.returncode == 0, explain.stderr
    assert "[KEEP" in explain.stdout and "[DROP teaser" in explain.stdout and "DROP source_line" in explain.stdout
    search = newsflow(["search", "cau treo", "--json"], data)
    hits = json.loads(search.stdout)["hits"]
    assert [h["title"] for h in hits] == ["Khánh thành cầu treo nối hai bản làng"]


def test_bad_feeds_file_is_a_clear_error(tmp_path: Path) -> None:
    """A feeds file with a bad entry, a misspelt key or bytes that are not UTF-8 names the
    file and the entry, and exits 2 (bad settings), starting nothing."""
    feeds = tmp_path / "feeds.yaml"
    for text, said in (
        (b"feeds:\n  - url: ftp://example.org/feed\n", "feed #1 url: "),
        (
            b"feeds:\n  - https://example.org/rss\n  - url: https://example.org/a\n    intervall: 60\n",
            "feed #2: unknown key 'intervall'",
        ),
        (b"feeds:\n  - url: https://example.org/\xff\n", "not UTF-8 text"),
    ):
        feeds.write_bytes(text)
        run = newsflow(["run", "--feeds", str(feeds), "--once"], tmp_path / "data")
        assert run.returncode == 2, run.stderr
        assert run.stderr.startswith(f"newsflow: feeds file {feeds}: ") and said in run.stderr, run.stderr
        assert len(run.stderr.strip().splitlines()) == 1


def test_search_api_answers_json_and_rejects_bad_parameters(tmp_path: Path) -> None:
    """`newsflow serve`: /api/search finds articles; a bad limit is a 400 with a reason."""
    data = tmp_path / "data"
    index_one_article(
        data,
        url="https://example.org/tin/chinh-quyen-than-thien-1.html",
        title="Chính quyền thân thiện",
        body="Xã ra mắt mô hình Chính quyền thân thiện.",
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL"}}
    env["NEWSFLOW_DATA_DIR"] = str(data)
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                    assert json.load(resp)["ok"] is True
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/api/search?q=chinh+quyen", timeout=5) as resp:
            answer = json.load(resp)
        assert answer["total"] == 1 and "<mark>Chính</mark>" in answer["hits"][0]["snippet"]
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/api/search?q=x&limit=0", timeout=5)
        assert err.value.code == 400 and "limit" in json.load(err.value)["error"]
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
        assert 'newsflow_queue_depth{queue="fetch"} 0' in metrics and "newsflow_articles 1" in metrics
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def test_search_on_a_terminal_prints_snippets_as_text(tmp_path: Path) -> None:
    """The snippet is HTML for the search page; `newsflow search` prints its text: quotes and
    ampersands as written, the matched words starred."""
    data = tmp_path / "data"
    index_one_article(
        data,
        url="https://example.org/news/ferry-and-harbour.html",
        title="Ferry & harbour",
        body='The skipper\'s log said "calm seas" & a <late> arrival at the harbour.',
    )
    found = newsflow(["search", "harbour"], data)
    assert found.returncode == 0, found.stderr
    assert 'The skipper\'s log said "calm seas" & a <late> arrival at the *harbour*.' in found.stdout
    assert "&#x27;" not in found.stdout and "&quot;" not in found.stdout and "&amp;" not in found.stdout
