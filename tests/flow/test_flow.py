"""The whole flow through real Redis, real Celery workers and real local HTTP servers."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.feeds import FeedConfig
from pipeline.models import article_id
from pipeline.search.base import SearchQuery
from pipeline.stages import fetch_work, poll_work
from pipeline.urls import canonicalize_url
from tests.feeds.helpers import raw_targets
from tests.support import SITES, docs_under, expected_articles, ingest
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration


def feed_for(server: SiteServer, name: str, path: str = "feed.xml") -> FeedConfig:
    return FeedConfig(url=f"{server.base}/{path}", site=f"{name}-{server.base.rsplit(':', 1)[1]}")


@pytest.mark.parametrize("site", ["courier", "songhong"], indirect=True)
def test_feed_articles_become_searchable(runtime: Runtime, workers: WorkerGroup, site: SiteServer) -> None:
    """Every article of a feed is fetched, cleaned and found by a search for its own words."""
    name = site.root.name
    feed = feed_for(site, name)
    ingest(runtime, workers, [feed])
    docs = docs_under(runtime, site.base)
    expected = expected_articles(name)
    assert sorted(d.title for d in docs) == sorted(a["title"] for a in expected)
    for art in expected:
        # A phrase from the last paragraph: far from any teaser excerpt.
        words = " ".join(art["body"][-1].split()[:6])
        page = runtime.search.search(SearchQuery(text=words, site=feed.site, limit=5))
        assert page.hits and page.hits[0].title == art["title"], words
        doc = runtime.search.get(article_id(canonicalize_url(f"{site.base}/{art['path']}")))
        assert doc is not None
        for para in art["body"]:
            assert para in doc.body
        # Teasers went to `related`, not to the body.
        others = [a for a in expected if a is not art]
        for other in others:
            assert other["body"][0][:60] not in doc.body
        assert {r.url for r in doc.related} >= {canonicalize_url(f"{site.base}/{o['path']}") for o in others}


def test_feed_polled_twice_queues_nothing_new(runtime: Runtime, workers: WorkerGroup, site: SiteServer) -> None:
    """A second poll of an unchanged feed finds no new URL and fetches no page."""
    feed = feed_for(site, "courier")
    ingest(runtime, workers, [feed])
    pages_before = [p for p in site.requests if ".html" in p]
    queued_before = runtime.state.stats().get("urls_queued", 0)
    ingest(runtime, workers, [feed])
    assert runtime.state.stats().get("urls_queued", 0) == queued_before
    assert [p for p in site.requests if ".html" in p] == pages_before
    assert len(pages_before) == len(expected_articles("courier"))


def test_same_article_under_two_urls_is_indexed_once(runtime: Runtime, workers: WorkerGroup, tmp_path: Path) -> None:
    """Tracking parameters, fragments and host case do not make a second article."""
    site_dir = tmp_path / "site"
    (site_dir / "news/2025/03").mkdir(parents=True)
    src = SITES / "courier/news/2025/03/ferry-service-returns-after-winter-repairs.html"
    (site_dir / "news/2025/03/ferry.html").write_bytes(src.read_bytes())
    with SiteServer(site_dir) as server:
        host = server.base
        links = [
            f"{host}/news/2025/03/ferry.html?utm_source=rss&amp;utm_campaign=x",
            f"{host.replace('http', 'HTTP')}/news/2025/03/ferry.html#comments",
            f"{host}/news/2025/03/ferry.html?fbclid=abc123",
        ]
        items = "".join(f"<item><title>Ferry</title><link>{u}</link></item>" for u in links)
        (site_dir / "feed.xml").write_text(f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>')
        ingest(runtime, workers, [FeedConfig(url=f"{server.base}/feed.xml")])
        assert len(docs_under(runtime, server.base)) == 1
        # Fetched once, at the first link as the feed wrote it.
        assert [p for p in server.requests if ".html" in p] == [
            "/news/2025/03/ferry.html?utm_source=rss&utm_campaign=x"
        ]


def test_a_site_that_reads_its_query_raw_is_fetched_as_its_feed_writes_it(
    runtime: Runtime, workers: WorkerGroup, tmp_path: Path
) -> None:
    """Through the workers: the feed and its article are asked for as written (the canonical
    form, query sorted and "/" escaped, is a 404 on such a server); the article is indexed
    under its canonical URL."""
    story = SITES / "courier/news/2025/03/ferry-service-returns-after-winter-repairs.html"
    page_target = "/index.php?/topic/12-ferry-returns/&from=rss"
    with SiteServer(tmp_path, routes={"/index.php": raw_targets({})}) as server:
        item = f"<item><title>Ferry</title><link>{server.base}{page_target.replace('&', '&amp;')}</link></item>"
        feed_body = f"<rss version='2.0'><channel><title>t</title>{item}</channel></rss>".encode()
        server.routes["/index.php"] = raw_targets(
            {
                "/index.php?/rss/1-news.xml/": ("application/rss+xml", feed_body),
                page_target: ("text/html", story.read_bytes()),
            }
        )
        ingest(runtime, workers, [FeedConfig(url=f"{server.base}/index.php?/rss/1-news.xml/")])
        assert server.requests == ["/robots.txt", "/index.php?/rss/1-news.xml/", page_target]
    (doc,) = docs_under(runtime, server.base)
    assert doc.url == canonicalize_url(server.base + page_target) != server.base + page_target
    assert "ferry" in doc.body.lower()


def test_private_address_refused_before_any_request(runtime: Runtime, workers: WorkerGroup) -> None:
    """A page on 127.0.0.2 when only 127.0.0.1 is allowed: dead-lettered, never contacted."""
    with SiteServer(SITES / "courier", host="127.0.0.2") as forbidden:
        submit(runtime.state, [fetch_work(f"{forbidden.base}/news/2025/03/new-cycle-bridge-opens-to-the-public.html")])
        assert wait_until_idle(runtime, workers, 30)
        assert forbidden.requests == []
    dead = runtime.state.dead.entries()
    assert len(dead) == 1
    assert "127.0.0.2" in dead[0].error and "NEWSFLOW_ALLOW_PRIVATE_NETWORKS" in dead[0].error


def _pdf(h: BaseHTTPRequestHandler) -> None:
    body = b"%PDF-1.4 not a news page"
    h.send_response(200)
    h.send_header("Content-Type", "application/pdf")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _huge(h: BaseHTTPRequestHandler) -> None:
    # No Content-Length: the cap must hold while streaming.
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Connection", "close")
    h.end_headers()
    chunk = b"<p>" + b"endless words " * 5000 + b"</p>"
    try:
        for _ in range(100):  # 7 MB, far over the 300 kB cap the workers run with
            h.wfile.write(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    h.close_connection = True


def _broken_feed(h: BaseHTTPRequestHandler) -> None:
    body = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Cut off<item><link>http://"
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def test_bad_inputs_end_as_clear_errors_and_the_worker_goes_on(runtime: Runtime, workers: WorkerGroup) -> None:
    """Non-HTML, an oversized page and a malformed feed are dead-lettered; good work still lands."""
    routes = {"/doc.pdf": _pdf, "/huge.html": _huge, "/broken-feed.xml": _broken_feed}
    with SiteServer(SITES / "courier", routes=routes) as server:
        submit(runtime.state, [fetch_work(f"{server.base}/doc.pdf")])
        submit(runtime.state, [fetch_work(f"{server.base}/huge.html")])
        for path in ("broken-feed.xml", "news/2025/03/new-cycle-bridge-opens-to-the-public.html"):
            feed = FeedConfig(url=f"{server.base}/{path}")
            submit(runtime.state, [poll_work(feed.model_dump(), feed.id, scheduled=False)])
        assert wait_until_idle(runtime, workers, 60)
        errors = {}
        for letter in runtime.state.dead.entries():
            arg = letter.args[0]
            errors[arg if isinstance(arg, str) else arg["url"]] = letter.error
        assert "is not HTML" in errors[f"{server.base}/doc.pdf"]
        assert "byte limit" in errors[f"{server.base}/huge.html"]
        assert "not a feed" in errors[f"{server.base}/broken-feed.xml"]
        assert "not a feed" in errors[f"{server.base}/news/2025/03/new-cycle-bridge-opens-to-the-public.html"]
        # The same workers still do good work afterwards.
        ingest(runtime, workers, [feed_for(server, "courier")])
        assert len(docs_under(runtime, server.base)) == len(expected_articles("courier"))
        assert workers.alive()
