"""The HTTP API speaks the query syntax and the sort order, on the embedded default (Tantivy)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.search.tantivy import TantivyBackend
from tests.search.test_search_contract import SYNTAX, art
from tests.support import make_settings
from tests.surfaces.server import ApiServer
from workers.runtime import Runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def api(tmp_path: Path, embedded_redis: str) -> Iterator[httpx.Client]:
    rt = Runtime(make_settings(tmp_path, embedded_redis))
    older = art("older", title="Typhoon typhoon", body="Typhoon nears.", days=0)
    newer = art("newer", title="Harbour news", body="A typhoon was mentioned.", days=1)
    rt.search.index([*SYNTAX, older, newer])
    try:
        with ApiServer(rt) as server, httpx.Client(base_url=server.base, timeout=30) as client:
            yield client
    finally:
        rt.close()


def test_the_embedded_default_is_tantivy(tmp_path: Path, embedded_redis: str) -> None:
    with Runtime(make_settings(tmp_path, embedded_redis)) as rt:
        assert isinstance(rt.search, TantivyBackend)


def test_the_api_takes_the_query_syntax_and_a_sort(api: httpx.Client) -> None:
    phrase = api.get("/api/search", params={"q": '"heavy rain"'}).json()
    assert [h["title"] for h in phrase["hits"]] == ["Flood warning"]
    assert "<mark>Heavy</mark> <mark>rain</mark>" in phrase["hits"][0]["snippet"]
    left_out = api.get("/api/search", params={"q": "flood -season lang:en"}).json()
    assert [h["title"] for h in left_out["hits"]] == ["Flood warning"]
    by_score = api.get("/api/search", params={"q": "typhoon"}).json()
    by_date = api.get("/api/search", params={"q": "typhoon", "sort": "date"}).json()
    assert [h["title"] for h in by_score["hits"]] == ["Typhoon typhoon", "Harbour news"]
    assert [h["title"] for h in by_date["hits"]] == ["Harbour news", "Typhoon typhoon"]
    bad = api.get("/api/search", params={"q": "typhoon", "sort": "oldest"})
    assert bad.status_code == 400 and "sort" in bad.json()["error"]


def test_the_schema_documents_the_syntax_and_the_sort(api: httpx.Client) -> None:
    params = {p["name"]: p for p in api.get("/openapi.json").json()["paths"]["/api/search"]["get"]["parameters"]}
    assert '"exact phrase"' in params["q"]["description"] and "site:" in params["q"]["description"]
    assert params["sort"]["schema"]["enum"] == ["relevance", "date"]
