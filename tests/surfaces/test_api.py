"""The HTTP API over a real uvicorn server: routes, JSON shapes, errors, HEAD and the OpenAPI schema."""

from __future__ import annotations

import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from tests.search.noida import free_port
from tests.support import make_settings
from tests.surfaces.articles import sample_articles
from tests.surfaces.server import ApiServer
from workers.runtime import Runtime

pytestmark = pytest.mark.integration

ARTICLES = sample_articles()


def test_search_finds_accented_text_typed_without_accents_and_marks_it(api: httpx.Client) -> None:
    """/api/search?q=chinh+quyen answers the article with its words wrapped in <mark>."""
    resp = api.get("/api/search", params={"q": "chinh quyen than thien"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    answer = resp.json()
    assert set(answer) == {"total", "hits", "next_cursor", "facets"}
    assert answer["total"] == 1
    hit = answer["hits"][0]
    assert hit["title"] == "Xã Tân Lập ra mắt mô hình chính quyền thân thiện"
    assert "<mark>chính</mark>" in hit["snippet"] and "<mark>thân</mark>" in hit["snippet"]
    assert {"id", "url", "site", "language", "published_at", "score", "cluster_id", "cluster_size"} <= hit.keys()


def test_search_filters_and_collapses_and_counts_facets(api: httpx.Client) -> None:
    """A cluster of three copies is one hit of cluster_size 3 unless all=1; facets count the matches."""
    collapsed = api.get("/api/search", params={"q": "song da"}).json()
    assert collapsed["total"] == 1 and collapsed["hits"][0]["cluster_size"] == 3
    every = api.get("/api/search", params={"q": "song da", "all": "1"}).json()
    assert every["total"] == 3 and all(h["cluster_size"] == 1 for h in every["hits"])
    story = collapsed["hits"][0]["cluster_id"]
    copies = api.get("/api/search", params={"cluster": story, "all": "1"}).json()
    assert sorted(h["id"] for h in copies["hits"]) == sorted(h["id"] for h in every["hits"])
    english = api.get("/api/search", params={"language": "en", "limit": "20"}).json()
    assert english["total"] == 11  # twelve articles, two of them copies of one story
    assert {h["site"] for h in english["hits"]} == {"riverdaily.example", "valleytimes.example"}
    facets = api.get("/api/search", params={"all": "1"}).json()["facets"]
    assert facets["language"] == {"en": 12, "vi": 5, "fr": 4, "es": 3}
    assert facets["site"]["riverdaily.example"] == 7
    assert sum(facets["published"].values()) == len(ARTICLES)


def test_a_cursor_pages_through_every_hit_once(api: httpx.Client) -> None:
    """next_cursor, sent back as JSON, continues the list until every article was seen once."""
    seen: list[str] = []
    params: dict[str, str] = {"all": "1", "limit": "4"}
    for _ in range(len(ARTICLES)):
        answer = api.get("/api/search", params=params).json()
        seen += [h["id"] for h in answer["hits"]]
        if answer["next_cursor"] is None:
            break
        params["cursor"] = json.dumps(answer["next_cursor"])
    assert sorted(seen) == sorted(a.id for a in ARTICLES)


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"q": "x", "limit": "0"}, "limit"),
        ({"q": "x", "limit": "many"}, "limit"),
        ({"since": "last tuesday"}, "since"),
        ({"cursor": "{not json"}, "cursor"),
        # Offsets this index never hands out: asking for them must not reach the engine.
        ({"cursor": '["offset", 2147483648]'}, "cursor"),
        ({"cursor": '["offset", 99999999999999999999]'}, "cursor"),
        ({"cursor": '["offset", -1]'}, "cursor"),
        ({"all": "perhaps"}, "all"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(api: httpx.Client, params: dict[str, str], names: str) -> None:
    """Bad values answer 400 with one message that names the parameter."""
    resp = api.get("/api/search", params=params)
    assert resp.status_code == 400
    assert names in resp.json()["error"]


def test_one_article_by_id_and_404s_as_json(api: httpx.Client) -> None:
    """/api/articles/<id> is the stored document; unknown ids and routes are JSON 404s."""
    art = ARTICLES[4]
    doc = api.get(f"/api/articles/{art.id}").json()
    assert doc == art.to_doc()
    missing = api.get("/api/articles/no-such-id")
    assert missing.status_code == 404 and "no-such-id" in missing.json()["error"]
    nowhere = api.get("/api/nowhere")
    assert nowhere.status_code == 404 and "/api/nowhere" in nowhere.json()["error"]


def test_health_page_and_metrics(api: httpx.Client) -> None:
    """/healthz says ok with the index size; / is the search page; /metrics is Prometheus text."""
    assert api.get("/healthz").json() == {"ok": True, "articles": len(ARTICLES)}
    page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="results"' in page.text
    metrics = api.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert f"newsflow_articles {len(ARTICLES)}" in metrics.text


@pytest.mark.parametrize("path", ["/", "/api/search?q=lu", "/healthz", "/metrics", "/openapi.json", "/docs", "/redoc"])
def test_head_answers_like_get_without_a_body(api: httpx.Client, path: str) -> None:
    """HEAD gets GET's status and content type, and no body."""
    got, head = api.get(path), api.head(path)
    assert head.status_code == got.status_code == 200
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.content == b""


def test_another_method_is_a_json_405_that_names_get_and_head(api: httpx.Client) -> None:
    """A route asked with POST (or DELETE) answers 405 in JSON, allowing what it answers."""
    for method in ("POST", "DELETE"):
        resp = api.request(method, "/api/search")
        assert resp.status_code == 405 and resp.json()["error"]
        assert resp.headers["allow"] == "GET, HEAD"


def test_openapi_schema_and_docs_describe_the_search_route(api: httpx.Client) -> None:
    """/openapi.json documents /api/search with its parameters and answer; /docs renders it."""
    schema = api.get("/openapi.json").json()
    search = schema["paths"]["/api/search"]["get"]
    assert {p["name"] for p in search["parameters"]} >= {"q", "site", "language", "since", "until", "limit", "cursor"}
    answer_ref = search["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    answer = schema["components"]["schemas"][answer_ref.rsplit("/", 1)[1]]
    assert {"total", "hits", "next_cursor", "facets"} <= answer["properties"].keys()
    assert {"/api/articles/{doc_id}", "/healthz", "/metrics", "/"} <= schema["paths"].keys()
    assert "404" in schema["paths"]["/api/articles/{doc_id}"]["get"]["responses"]  # an unknown id
    for docs in (api.get("/docs"), api.get("/redoc")):
        assert docs.status_code == 200 and "/openapi.json" in docs.text


class AssetLinks(HTMLParser):
    """The addresses a page loads: scripts, style sheets and icons, as (kind, url)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and named.get("src"):
            self.found.append(("script", named["src"] or ""))
        elif tag == "link" and named.get("href"):
            self.found.append((named.get("rel") or "link", named["href"] or ""))


ASSET_TYPES = {"script": "javascript", "stylesheet": "text/css", "shortcut icon": "image/"}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_every_file_from_the_server_itself(api: httpx.Client, path: str) -> None:
    """/docs and /redoc name no address on another host, and each script, style sheet and icon they
    load answers 200 from the API with its content type (no CDN: the pages work offline)."""
    page = api.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert not re.search(r"(?i)(https?:)?//", page.text), "the page names an address outside the server"
    policy = page.headers["content-security-policy"]  # and the browser refuses what a script would add
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy and "http" not in policy
    links = AssetLinks()
    links.feed(page.text)
    kinds = {kind for kind, _ in links.found}
    assert "script" in kinds and "shortcut icon" in kinds
    assert path != "/docs" or "stylesheet" in kinds
    for kind, url in links.found:
        assert url.startswith("/docs-assets/"), url
        asset = api.get(url)
        assert asset.status_code == 200, url
        assert ASSET_TYPES[kind] in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 500, url  # the file itself, not an empty stand-in


def test_search_backend_down_is_a_503_and_metrics_still_answer(
    tmp_path: Path, embedded_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With Elasticsearch unreachable, search and health say 503 in JSON; /metrics says search is down;
    the log says so in one warning a request, naming the cluster, without a traceback."""
    caplog.set_level(logging.WARNING, logger="newsflow.api")
    closed = free_port()  # nothing listens there
    rt = Runtime(make_settings(tmp_path, embedded_redis, elasticsearch_url=f"http://127.0.0.1:{closed}"))
    try:
        with ApiServer(rt) as server, httpx.Client(base_url=server.base, timeout=30) as client:
            search = client.get("/api/search", params={"q": "lu"})
            assert search.status_code == 503 and "try again" in search.json()["error"]
            assert client.get("/healthz").status_code == 503
            metrics = client.get("/metrics")
            assert metrics.status_code == 200 and "newsflow_search_up 0" in metrics.text
    finally:
        rt.close()
    said = [r for r in caplog.records if r.name == "newsflow.api"]
    assert [r.getMessage().split(":", 1)[0] for r in said] == ["GET /api/search", "GET /healthz"]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in said)
    assert f"127.0.0.1:{closed}" in said[0].getMessage()
