"""A page that opens with a broken XML declaration, through real Redis, Celery workers and a local HTTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.feeds import FeedConfig
from pipeline.models import article_id
from pipeline.search.base import SearchQuery
from pipeline.urls import canonicalize_url
from tests.fuzz.strategies import BROKEN_DECLARATION
from tests.support import SITES, docs_under, expected_articles, ingest
from workers.runtime import Runtime
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration

FERRY = "news/2025/03/ferry-service-returns-after-winter-repairs.html"


def test_a_page_behind_an_unterminated_declaration_is_indexed_with_its_article(
    runtime: Runtime, workers: WorkerGroup, tmp_path: Path
) -> None:
    """~850 characters of keywords where the encoding goes and no `?>`: fetched, cleaned, searchable, no dead letter."""
    site_dir = tmp_path / "site"
    (site_dir / "news/2025/03").mkdir(parents=True)
    page = (SITES / "courier" / FERRY).read_bytes()
    (site_dir / FERRY).write_bytes(BROKEN_DECLARATION.encode() + b"\n" + page)
    (site_dir / "feed.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Courier</title>'
        f"<item><title>Ferry</title><link>{{{{BASE}}}}/{FERRY}</link></item></channel></rss>"
    )
    (article,) = [a for a in expected_articles("courier") if a["path"] == FERRY]
    with SiteServer(site_dir) as server:
        feed = FeedConfig(url=f"{server.base}/feed.xml", site="declarations")
        ingest(runtime, workers, [feed])
        assert runtime.state.dead.entries() == []
        (doc,) = docs_under(runtime, server.base)
        assert doc.id == article_id(canonicalize_url(f"{server.base}/{FERRY}"))
        assert doc.title == article["title"]
        for para in article["body"]:
            assert para in doc.body
        words = " ".join(article["body"][-1].split()[:6])
        hits = runtime.search.search(SearchQuery(text=words, site=feed.site, limit=5)).hits
        assert hits and hits[0].title == article["title"]
