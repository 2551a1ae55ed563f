"""The whole flow into Elasticsearch: the demo sites, searched with and without accents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.search.elastic import ElasticsearchBackend
from pipeline.settings import Settings
from tests.search.noida import NoidaServer
from tests.support import SITES

pytestmark = pytest.mark.integration


def test_demo_into_elasticsearch_finds_accentless_queries_and_collapses_copies(es_url: str, tmp_path: Path) -> None:
    """`newsflow demo` with ELASTICSEARCH_URL: one hit for the friendly-government story,
    and the republished festival story shown once with its copy counted, in an index of the
    demo's own beside the configured one, which it leaves alone."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        NEWSFLOW_DATA_DIR=str(tmp_path),
        ELASTICSEARCH_URL=es_url,
        NEWSFLOW_ELASTICSEARCH_INDEX=f"newsflow-flow-{uuid.uuid4().hex[:8]}",
    )
    try:
        run = subprocess.run(
            [sys.executable, "-m", "workers.cli", "demo"], env=env, capture_output=True, text=True, timeout=300
        )
        # Its closing line searches the demo's index, with the configured one still set.
        hint = run.stdout.strip().splitlines()[-1].strip() if run.returncode == 0 else "false"
        again = subprocess.run(["sh", "-c", hint], env=env, capture_output=True, text=True, timeout=120)
    finally:
        # A real cluster keeps what the test wrote unless it is removed.
        ours = env["NEWSFLOW_ELASTICSEARCH_INDEX"]
        untouched: list[str] = []
        for index in (f"{ours}-demo", ours):
            backend = ElasticsearchBackend.from_settings(Settings(elasticsearch_url=es_url, elasticsearch_index=index))
            if index == ours:
                untouched = list(backend.owned_indices())
            backend.drop()
            backend.close()
    assert run.returncode == 0, run.stderr
    assert not untouched, untouched
    out = run.stdout
    assert "failed:            0" in out
    friendly = out.split("$ newsflow search 'chinh quyen than thien'")[1].split("$ newsflow search")[0]
    assert friendly.splitlines()[1] == "1 result(s)"
    assert "Chính quyền thân thiện" in friendly
    festival = out.split("$ newsflow search 'le hoi gau tao'")[1]
    assert festival.splitlines()[1] == "1 result(s)"
    assert "(+1 duplicate(s))" in festival
    assert again.returncode == 0, again.stderr
    assert "1 result(s)" in again.stdout and "Chính quyền thân thiện" in again.stdout


def test_articles_wait_while_the_search_backend_is_down_and_arrive_once_it_is_back(tmp_path: Path) -> None:
    """`run --once` with Elasticsearch down fetches and cleans everything, loses nothing and
    says how many articles wait; the next run, with the server up, indexes every one of them."""
    if os.environ.get("ELASTICSEARCH_URL"):
        pytest.skip("stops and starts a private server; a shared cluster is not taken down by tests")
    expected = json.loads((SITES / "songhong/expected.json").read_text(encoding="utf-8"))["articles"]
    server = NoidaServer(tmp_path / "es")  # its port is chosen, nothing listens there yet
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        NEWSFLOW_DATA_DIR=str(tmp_path / "data"),
        ELASTICSEARCH_URL=server.url,
        NEWSFLOW_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32",
        NEWSFLOW_HOST_DELAY="0",
        NEWSFLOW_MAX_RETRIES="1",
        NEWSFLOW_RETRY_BACKOFF_MAX="1",
        NEWSFLOW_INDEX_PATIENCE="3",  # the backend stays down for this whole run
    )

    def run_once(feeds: Path) -> subprocess.CompletedProcess[str]:
        args = ["run", "--feeds", str(feeds), "--once", "--timeout", "120"]
        return subprocess.run(
            [sys.executable, "-m", "workers.cli", *args], env=env, capture_output=True, text=True, timeout=300
        )

    with SiteServer(SITES / "songhong") as site:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {site.base}/feed.xml\n    site: songhong\n")
        down = run_once(feeds)
        assert down.returncode == 0, down.stderr
        assert "the search backend does not answer" in down.stdout
        assert f"waiting to index:  {len(expected)}" in down.stdout
        assert "failed:            0 (dead letters: 0)" in down.stdout
        server.start()
        try:
            back = run_once(feeds)  # nothing new on the site: only the waiting articles
        finally:
            server.stop()
    assert back.returncode == 0, back.stderr
    assert f"index holds {len(expected)}" in back.stdout
    assert "waiting to index" not in back.stdout
