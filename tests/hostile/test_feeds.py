"""Feeds with items that cannot be fetched: each is skipped, counted by reason, and shown in the feed's health."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline import scheduling
from pipeline.errors import DeadlineExceeded, PermanentError, TooLarge
from pipeline.feeds import FeedConfig, parse_feed, poll_feed
from pipeline.fetching import Fetcher
from tests.feeds.helpers import FeedRoute, local_fetcher
from tests.hostile.servers import drip_body, send
from workers.runtime import Runtime

BASE = "http://tin.example"

# Vietnamese headlines; only "Giá lúa tăng" and "Mùa nước nổi" have links a fetcher may follow.
BAD_LINKS_RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Tin nhanh</title>
<item><title>Giá lúa tăng</title><link>/kinh-te/gia-lua-tang.html</link></item>
<item><title>Bấm vào đây</title><link>javascript:alert(document.cookie)</link></item>
<item><title>Mật khẩu</title><link>file:///etc/passwd</link></item>
<item><title>Trang nhúng</title><link>data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;</link></item>
<item><title>Kho lưu trữ</title><link>ftp://tin.example/luu-tru.html</link></item>
<item><title>Thư bạn đọc</title><link>mailto:toasoan@tin.example</link></item>
<item><title>Cổng sai</title><link>http://tin.example:99999/cong-sai.html</link></item>
<item><title>Không có liên kết</title><description>Chỉ có mô tả.</description></item>
<item><title>Mã bài viết</title><guid>javascript:void(0)</guid></item>
<item><title>Mùa nước nổi</title><link>https://tin.example/xa-hoi/mua-nuoc-noi.html</link></item>
</channel></rss>""".encode()

BAD_LINKS_ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Nouvelles</title>
<entry><title>Le marche du samedi</title><id>tag:nouvelles.example,2025:1</id>
  <link rel="alternate" href="javascript:alert(1)"/></entry>
<entry><title>Balado</title><id>episode-2</id><link rel="enclosure" href="http://tin.example/balado.mp3"/></entry>
<entry><title>La rentree</title><id>tag:nouvelles.example,2025:3</id><link href="/la-rentree.html"/></entry>
</feed>"""

WRONG_TYPES_JSON = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Boletín",
        "items": [
            {"id": "1", "url": "https://tin.example/boletin/lluvias.html", "title": "Lluvias en el valle"},
            7,
            "https://tin.example/una-cadena.html",
            None,
            ["https://tin.example/una-lista.html"],
            {"id": "2", "url": 12345, "title": "url es un número"},
            {"id": "3", "url": {"href": "https://tin.example/objeto.html"}, "title": "url es un objeto"},
            {"id": "4", "url": "javascript:void(0)", "title": "esquema peligroso"},
            {"id": "5", "title": "sin enlace"},
            {"id": {"x": 1}, "external_url": "/boletin/feria.html", "title": 42},
        ],
    }
).encode()


def test_rss_items_with_unusable_links_are_counted_by_reason() -> None:
    """javascript:, file:, data:, ftp:, mailto: links, a broken port, no link and a non-URL GUID are skipped and counted."""
    parsed = parse_feed(BAD_LINKS_RSS, f"{BASE}/rss")
    assert [e.url for e in parsed.entries] == [
        f"{BASE}/kinh-te/gia-lua-tang.html",
        "https://tin.example/xa-hoi/mua-nuoc-noi.html",
    ]
    assert parsed.skipped == {"not_http_link": 5, "bad_link": 1, "no_link": 2}


def test_atom_entries_without_a_web_link_are_counted() -> None:
    """An Atom entry linking javascript:, or with only an enclosure and an opaque id, is not turned into a URL."""
    parsed = parse_feed(BAD_LINKS_ATOM, f"{BASE}/atom")
    assert [e.url for e in parsed.entries] == [f"{BASE}/la-rentree.html"]
    assert parsed.skipped == {"not_http_link": 1, "no_link": 1}


def test_json_feed_items_of_the_wrong_types_are_counted() -> None:
    """Items that are not objects, urls that are not strings, a javascript: url and a missing url are counted apart."""
    parsed = parse_feed(WRONG_TYPES_JSON, f"{BASE}/feed.json")
    assert [(e.url, e.guid, e.title) for e in parsed.entries] == [
        ("https://tin.example/boletin/lluvias.html", "1", "Lluvias en el valle"),
        (f"{BASE}/boletin/feria.html", None, ""),
    ]
    assert parsed.skipped == {"not_an_object": 4, "wrong_type": 2, "not_http_link": 1, "no_link": 1}


@pytest.mark.parametrize(
    ("items", "said"), [({"a": 1}, "items as an object"), ("x", "items as a string"), (None, "no items")]
)
def test_json_feed_whose_items_are_not_a_list_is_a_clear_error(items: object, said: str) -> None:
    """A JSON Feed whose items are missing or not a list is refused in one line saying what it found."""
    body = json.dumps({"version": "https://jsonfeed.org/version/1", "items": items}).encode()
    with pytest.raises(PermanentError, match=said) as refused:
        parse_feed(body, f"{BASE}/feed.json")
    assert "\n" not in str(refused.value)


def test_sitemap_locations_that_are_not_web_addresses_are_counted() -> None:
    """A sitemap <loc> on ftp: or file: is skipped and counted like a feed item."""
    body = b"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>ftp://tin.example/a.html</loc></url><url><loc>file:///srv/b.html</loc></url>
<url><loc>http://tin.example/c.html</loc></url><url><lastmod>2025-01-01</lastmod></url></urlset>"""
    parsed = parse_feed(body, f"{BASE}/sitemap.xml")
    assert [e.url for e in parsed.entries] == [f"{BASE}/c.html"]
    assert parsed.skipped == {"not_http_link": 2, "no_link": 1}


TITLE_VI = "Lũ quét ở Mường Tè"
TITLE_DE = "Größte Überschwemmung seit Jahren"


def _rss(title: str, declaration: str = '<?xml version="1.0"?>') -> str:
    return (
        f'{declaration}<rss version="2.0"><channel><title>{title}</title>'
        f"<item><title>{title}</title><link>{BASE}/bai.html</link></item></channel></rss>"
    )


@pytest.mark.parametrize(
    ("body", "header", "title"),
    [
        (_rss(TITLE_VI).encode(), "x-klingon", TITLE_VI),
        (_rss(TITLE_VI, '<?xml version="1.0" encoding="utf-99"?>').encode(), None, TITLE_VI),
        (_rss(TITLE_VI).encode("utf-16"), "utf-8", TITLE_VI),
        (_rss(TITLE_DE, '<?xml version="1.0" encoding="iso-8859-1"?>').encode("latin-1"), "utf-8", TITLE_DE),
        (_rss(TITLE_VI).encode() + b"\xff\xfe\x00 trailing bytes", "utf-8", None),
        (_rss(TITLE_VI).encode().replace(b"<title>", b"<title>\x00", 1), None, None),
    ],
    ids=[
        "unknown-label",
        "bogus-declaration",
        "utf16-bom-vs-header",
        "latin1-labelled-utf8",
        "invalid-bytes",
        "nul-byte",
    ],
)
def test_feeds_with_bad_charsets_still_yield_their_items(body: bytes, header: str | None, title: str | None) -> None:
    """An unknown charset label, a bogus XML declaration, a BOM that contradicts the header, a body mislabelled
    UTF-8, stray invalid bytes or a NUL: the item is read, with its title right wherever the bytes allow."""
    parsed = parse_feed(body, f"{BASE}/rss", header)
    assert [e.url for e in parsed.entries] == [f"{BASE}/bai.html"]
    if title is not None:
        assert parsed.entries[0].title == title


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    f = local_fetcher()
    yield f
    f.close()


@pytest.mark.integration
def test_skipped_items_reach_the_feed_health(runtime: Runtime, fetcher: Fetcher, tmp_path: Path) -> None:
    """A poll records the last body's skipped items by reason and counts them over time, once per distinct body."""
    route = FeedRoute(body=BAD_LINKS_RSS)
    with SiteServer(tmp_path, routes={"/rss": route}) as srv:
        feed = FeedConfig(url=f"{srv.base}/rss")
        scheduling.register_feeds(runtime.state, [feed], 0.0)
        poll_feed(feed, fetcher, runtime.state, max_bytes=1_000_000)
        health = runtime.state.feed_state(feed.id)
        assert json.loads(health["items_skipped_last"]) == {"bad_link": 1, "no_link": 2, "not_http_link": 5}
        assert health["items_skipped:not_http_link"] == "5"

        route.etag = None  # the same body again, answered 200: not parsed, not counted twice
        poll_feed(feed, fetcher, runtime.state, max_bytes=1_000_000)
        assert runtime.state.feed_state(feed.id)["items_skipped:not_http_link"] == "5"

        route.body = BAD_LINKS_RSS.replace(b"<title>Tin nhanh</title>", b"<title>Tin nhanh (2)</title>").replace(
            b"<link>ftp://tin.example/luu-tru.html</link>", b"<link>/luu-tru.html</link>"
        )
        poll_feed(feed, fetcher, runtime.state, max_bytes=1_000_000)
        health = runtime.state.feed_state(feed.id)
        assert json.loads(health["items_skipped_last"]) == {"bad_link": 1, "no_link": 2, "not_http_link": 4}
        assert health["items_skipped:not_http_link"] == "9"
        assert health["items_skipped:no_link"] == "4"
    # What an operator reads: the feed's health in `status`/`feeds list`, and the counters.
    shown = {h["id"]: h for h in scheduling.feed_health(runtime.state)}[feed.id]
    assert shown["items_skipped"] == {"bad_link": 2, "no_link": 4, "not_http_link": 9}
    assert runtime.state.stats()["feed_items_skipped:not_http_link"] == 9


@pytest.mark.integration
@pytest.mark.parametrize("route", ["drip", "oversized"])
def test_hostile_feed_server_ends_in_the_feed_health(runtime: Runtime, tmp_path: Path, route: str) -> None:
    """A feed that drips its body or is too large fails the poll with the deadline or the byte limit, in the feed's health."""
    routes = {"/drip.xml": drip_body(every=0.1, seconds=60), "/oversized.xml": send(b"<rss>" + b" " * 3_000_000, {})}
    quick = local_fetcher(total_timeout=1.5, read_timeout=1.0)
    with SiteServer(tmp_path, routes=routes) as srv, contextlib.closing(quick):
        feed = FeedConfig(url=f"{srv.base}/{route}.xml")
        with pytest.raises(DeadlineExceeded if route == "drip" else TooLarge):
            poll_feed(feed, quick, runtime.state, max_bytes=1_000_000)
    health = runtime.state.feed_state(feed.id)
    assert health["consecutive_errors"] == "1"
    assert ("total deadline" if route == "drip" else "byte limit") in health["last_error"]
