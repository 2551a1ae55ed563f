"""The whole flow into Elasticsearch: the demo sites, searched with and without accents."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pipeline.search.elastic import ElasticsearchBackend
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def test_demo_into_elasticsearch_finds_accentless_queries_and_collapses_copies(es_url: str, tmp_path: Path) -> None:
    """`newsflow demo` with ELASTICSEARCH_URL: one hit for the friendly-government story,
    and the republished festival story shown once with its copy counted."""
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
    finally:
        # A real cluster keeps what the test wrote unless it is removed.
        backend = ElasticsearchBackend.from_settings(
            Settings(elasticsearch_url=es_url, elasticsearch_index=env["NEWSFLOW_ELASTICSEARCH_INDEX"])
        )
        backend.drop()
        backend.close()
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "failed:            0" in out
    friendly = out.split("$ newsflow search 'chinh quyen than thien'")[1].split("$ newsflow search")[0]
    assert friendly.splitlines()[1] == "1 result(s)"
    assert "Chính quyền thân thiện" in friendly
    festival = out.split("$ newsflow search 'le hoi gau tao'")[1]
    assert festival.splitlines()[1] == "1 result(s)"
    assert "(+1 duplicate(s))" in festival
