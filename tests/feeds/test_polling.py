"""Polling feeds against real Redis and feed servers on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline import scheduling
from pipeline.errors import PermanentError, TransientError
from pipeline.feeds import LIAR_PROBATION, FeedConfig, ParsedFeed, parse_feed, poll_feed
from pipeline.fetching import Fetcher
from pipeline.ingest import fetch_page
from pipeline.politeness import PoliteFetcher, Politeness, PolitenessConfig
from pipeline.state import StateStore
from pipeline.storage import DirectoryRawStore
from pipeline.urls import canonicalize_url
from tests.feeds.helpers import FeedRoute, local_fetcher, raw_targets, rss
from workers.runtime import Runtime

pytestmark = pytest.mark.integration

POLICY = scheduling.PollPolicy(default_interval=900, min_interval=60, max_interval=3600, error_backoff_max=3600)


@pytest.fixture
def route() -> FeedRoute:
    return FeedRoute()


@pytest.fixture
def server(tmp_path: Path, route: FeedRoute) -> Iterator[SiteServer]:
    with SiteServer(tmp_path, routes={"/feed.xml": route}) as srv:
        yield srv


@pytest.fixture
def state(runtime: Runtime) -> StateStore:
    return runtime.state


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    f = local_fetcher()
    yield f
    f.close()


class CountingParser:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, body: bytes, url: str, charset: str | None = None) -> ParsedFeed:
        self.calls += 1
        return parse_feed(body, url, charset)


def test_feed_answering_304_is_not_parsed_again(
    server: SiteServer, route: FeedRoute, state: StateStore, fetcher: Fetcher
) -> None:
    """Second poll sends the ETag, gets 304, and does not parse anything."""
    route.body = rss(server.base, [("a.html", "a")])
    feed = FeedConfig(url=f"{server.base}/feed.xml")
    parse = CountingParser()
    first = poll_feed(feed, fetcher, state, 10**6, parse=parse)
    second = poll_feed(feed, fetcher, state, 10**6, parse=parse)
    assert (first.outcome, len(first.new_entries)) == ("read", 1)
    assert (second.status, second.outcome, parse.calls) == (304, "not_modified", 1)
    assert route.hits[1].headers["if-none-match"] == route.current_etag()


def test_same_body_without_validators_is_not_parsed_again(
    server: SiteServer, route: FeedRoute, state: StateStore, fetcher: Fetcher
) -> None:
    """A server without validators sending the same bytes: the body hash says unchanged, no parse."""
    route.etag = None
    route.body = rss(server.base, [("a.html", "a")])
    feed = FeedConfig(url=f"{server.base}/feed.xml")
    parse = CountingParser()
    poll_feed(feed, fetcher, state, 10**6, parse=parse)
    again = poll_feed(feed, fetcher, state, 10**6, parse=parse)
    assert (again.outcome, parse.calls) == ("unchanged", 1)


def test_feed_whose_etag_never_changes_is_still_read(
    server: SiteServer, route: FeedRoute, state: StateStore, fetcher: Fetcher
) -> None:
    """An ETag that stays put while the feed changes is caught by a check without validators,
    the new entry is found, and the feed is polled without validators from then on."""
    route.etag = '"forever"'
    route.body = rss(server.base, [("a.html", "a")])
    feed = FeedConfig(url=f"{server.base}/feed.xml")
    assert len(poll_feed(feed, fetcher, state, 10**6, verify_every=2).new_entries) == 1
    route.body = rss(server.base, [("b.html", "b"), ("a.html", "a")])
    outcomes = [poll_feed(feed, fetcher, state, 10**6, verify_every=2) for _ in range(3)]
    assert [o.outcome for o in outcomes] == ["not_modified", "not_modified", "read"]
    assert [e.url for e in outcomes[2].new_entries] == [f"{server.base}/b.html"]
    assert state.feed_state(feed.id)["validators"] == "lie"
    route.body = rss(server.base, [("c.html", "c"), ("b.html", "b"), ("a.html", "a")])
    later = poll_feed(feed, fetcher, state, 10**6, verify_every=2)
    assert "if-none-match" not in route.hits[-1].headers
    assert [e.url for e in later.new_entries] == [f"{server.base}/c.html"]
    # A week on, the feed is trusted again (the periodic check would catch it once more).
    poll_feed(feed, fetcher, state, 10**6, verify_every=2, now=time.time() + LIAR_PROBATION + 60)
    assert route.hits[-1].headers.get("if-none-match") == '"forever"'
    assert state.feed_state(feed.id)["validators"] == ""


def test_entry_identity_survives_changed_urls_and_guids(
    server: SiteServer, route: FeedRoute, state: StateStore, fetcher: Fetcher
) -> None:
    """A stable GUID under a new URL is not a new article; a known URL under a new GUID is not either."""
    feed = FeedConfig(url=f"{server.base}/feed.xml")
    route.body = rss(server.base, [("a.html", "g-a"), ("b.html", "g-b")])
    assert len(poll_feed(feed, fetcher, state, 10**6).new_entries) == 2
    # The site moved article a to a new slug (same GUID) and re-keyed article b (same URL).
    route.body = rss(server.base, [("a-renamed.html", "g-a"), ("b.html", "g-b2"), ("c.html", "g-c")])
    result = poll_feed(feed, fetcher, state, 10**6)
    assert [e.url for e in result.new_entries] == [f"{server.base}/c.html"]


def test_feed_health_shows_failing_since_and_recovers(
    server: SiteServer, route: FeedRoute, state: StateStore, fetcher: Fetcher
) -> None:
    """A failing feed shows since when, errors in a row and the last error; it stays scheduled, then recovers."""
    feed = FeedConfig(url=f"{server.base}/feed.xml")
    scheduling.register_feeds(state, [feed], 1000.0)
    route.status = 500
    for now in (1000.0, 2000.0):
        with pytest.raises(TransientError):
            scheduling.poll_and_plan(feed, fetcher=fetcher, state=state, policy=POLICY, max_bytes=10**6, now=now)
    health = {h["id"]: h for h in scheduling.feed_health(state)}[feed.id]
    assert health["health"] == "failing"
    assert health["consecutive_errors"] == 2
    assert health["failing_since"] == "1970-01-01T00:16:40+00:00"
    assert "HTTP 500" in health["last_error"]
    assert state.feeds.next_polls()[feed.id] > 2000.0  # still scheduled
    route.status = 200
    route.body = rss(server.base, [("a.html", "a")])
    scheduling.poll_and_plan(feed, fetcher=fetcher, state=state, policy=POLICY, max_bytes=10**6, now=3000.0)
    health = {h["id"]: h for h in scheduling.feed_health(state)}[feed.id]
    assert (health["health"], health["consecutive_errors"], health["last_new_item"]) == (
        "ok",
        0,
        health["last_success"],
    )


def test_retry_after_on_a_feed_pushes_its_next_poll(
    server: SiteServer, route: FeedRoute, state: StateStore, fetcher: Fetcher
) -> None:
    """A feed answering 429 with Retry-After is not scheduled before the server allows."""
    feed = FeedConfig(url=f"{server.base}/feed.xml")
    scheduling.register_feeds(state, [feed], 0.0)
    route.status, route.extra_headers = 429, {"Retry-After": "7200"}
    with pytest.raises(TransientError):
        scheduling.poll_and_plan(feed, fetcher=fetcher, state=state, policy=POLICY, max_bytes=10**6, now=0.0)
    assert state.feeds.next_polls()[feed.id] >= 7200.0


def test_paused_feed_is_not_due_until_resumed(state: StateStore) -> None:
    """Pause takes a feed off the schedule, keeping its state; resume makes it due at once."""
    feed = FeedConfig(url="http://news.example/feed.xml")
    scheduling.register_feeds(state, [feed], 0.0)
    assert scheduling.pause_feed(state, feed.id)
    assert scheduling.claim_due(state, 10.0) == []
    scheduling.register_feeds(state, [feed], 20.0)  # loading the feeds file again does not unpause
    assert scheduling.claim_due(state, 30.0) == []
    assert scheduling.resume_feed(state, feed.id, 40.0)
    assert [f.id for f in scheduling.claim_due(state, 50.0)] == [feed.id]
    assert {h["id"]: h for h in scheduling.feed_health(state)}[feed.id]["health"] == "new"


def test_robots_disallowed_feed_is_not_fetched_and_shows_why(
    tmp_path: Path, state: StateStore, fetcher: Fetcher
) -> None:
    """A feed under a Disallow of robots.txt is never requested; its health names robots.txt."""
    (tmp_path / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    route = FeedRoute(body=b"<rss version='2.0'><channel><title>t</title></channel></rss>")
    with SiteServer(tmp_path, routes={"/private/feed.xml": route}) as srv:
        feed = FeedConfig(url=f"{srv.base}/private/feed.xml")
        polite = Politeness(state.hosts, PolitenessConfig(delay=0))
        with pytest.raises(Exception, match="robots"):
            poll_feed(feed, PoliteFetcher(fetcher, polite), state, 10**6)
        assert route.hits == []
        assert "robots.txt" in state.feed_state(feed.id)["last_error"]
        assert srv.requests == ["/robots.txt"]


def test_not_a_feed_is_a_permanent_error(
    server: SiteServer, route: FeedRoute, state: StateStore, fetcher: Fetcher
) -> None:
    """An HTML page given as a feed fails clearly and counts as an error of the feed."""
    route.body = b"<html><body>hello</body></html>"
    feed = FeedConfig(url=f"{server.base}/feed.xml")
    with pytest.raises(PermanentError, match="not a feed"):
        poll_feed(feed, fetcher, state, 10**6)
    assert state.feed_state(feed.id)["consecutive_errors"] == "1"


FORUM_PAGE = (
    "<html><head><title>Cầu treo</title></head><body><h1>Cầu treo nối hai bản</h1>"
    "<p>Cây cầu mới giúp học sinh đến trường an toàn hơn trong mùa mưa.</p></body></html>"
).encode()


def test_a_forum_that_reads_its_query_raw_is_asked_for_links_as_written(
    tmp_path: Path, state: StateStore, fetcher: Fetcher
) -> None:
    """The feed and its item are asked for as the site wrote them (the canonical form, with its
    query sorted, escaped and without the tracking parameter, would be a 404 here); the
    article is stored under its canonical URL, its identity."""
    feed_target = "/index.php?/rss/1-tin-moi.xml/&b=2&a=1"
    page_target = "/index.php?/topic/12-cau-treo/&utm_source=rss"
    with SiteServer(tmp_path, routes={"/index.php": raw_targets({})}) as srv:
        item = f"<item><title>Cầu treo</title><link>{srv.base}{page_target.replace('&', '&amp;')}#c</link></item>"
        srv.routes["/index.php"] = raw_targets(
            {
                feed_target: (
                    "application/rss+xml",
                    f"<rss version='2.0'><channel><title>D</title>{item}</channel></rss>".encode(),
                ),
                page_target: ("text/html; charset=utf-8", FORUM_PAGE),
            }
        )
        feed = FeedConfig(url=srv.base + feed_target)
        polled = poll_feed(feed, fetcher, state, 10**6)
        assert [e.url for e in polled.new_entries] == [canonicalize_url(srv.base + page_target)]
        (work,) = polled.new_work
        page = fetch_page(**work.kwargs, fetcher=fetcher, store=DirectoryRawStore(tmp_path / "raw"))
        assert srv.requests == [feed_target, page_target]
    assert page.url == canonicalize_url(srv.base + page_target) and page.url != srv.base + page_target
    assert DirectoryRawStore(tmp_path / "raw").get(page.ref) == FORUM_PAGE


def test_a_fetch_whose_address_names_another_page_asks_for_nothing(tmp_path: Path, fetcher: Fetcher) -> None:
    """The page's identity and what is fetched must agree: a message pairing one URL with
    another page's address is refused (dead-lettered by the worker) before any request."""
    with SiteServer(tmp_path) as srv:
        with pytest.raises(PermanentError, match="another page"):
            fetch_page(
                f"{srv.base}/tin/a.html",
                address=f"{srv.base}/tin/b.html",
                fetcher=fetcher,
                store=DirectoryRawStore(tmp_path / "raw"),
            )
        assert srv.requests == []
