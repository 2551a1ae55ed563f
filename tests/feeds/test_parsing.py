"""Feed shapes, decoding, discovery and OPML: pure functions, no services."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.charset import decode_xml
from pipeline.errors import PermanentError
from pipeline.feeds import FeedConfig, discover_feeds, parse_feed
from pipeline.opml import read_opml, write_opml
from pipeline.urls import canonicalize_url
from tests.fetching.vietnamese import encode_cp1258

BASE = "http://news.example"

RSS091 = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><link>http://news.example/</link><description>d</description>
<language>en</language><item><title>One</title><link>http://news.example/one.html</link></item></channel></rss>"""

RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
<channel rdf:about="http://news.example/"><title>RDF</title><link>http://news.example/</link>
<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency></channel>
<item rdf:about="http://news.example/one.html"><title>One</title><link>http://news.example/one.html</link></item>
</rdf:RDF>"""

RSS20 = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>New</title><ttl>30</ttl>
<item><title>One</title><link>/one.html?utm_source=rss</link><guid isPermaLink="false">id-1</guid>
<pubDate>Mon, 10 Feb 2025 02:00:00 GMT</pubDate></item></channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
<entry><title>One</title><id>tag:news.example,2025:1</id><link rel="alternate" href="http://news.example/one.html"/>
<updated>2025-02-10T02:00:00Z</updated></entry></feed>"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "items": [
            {"id": "1", "url": "http://news.example/one.html", "title": "One", "date_published": "2025-02-10T02:00:00Z"}
        ],
    }
).encode()

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>http://news.example/one.html</loc><news:news><news:publication><news:name>N</news:name>
<news:language>en</news:language></news:publication><news:publication_date>2025-02-10T02:00:00+00:00</news:publication_date>
<news:title>One</news:title></news:news></url></urlset>"""


@pytest.mark.parametrize(
    ("body", "kind"),
    [(RSS091, "rss"), (RSS10, "rss"), (RSS20, "rss"), (ATOM, "atom"), (JSON_FEED, "json"), (NEWS_SITEMAP, "sitemap")],
    ids=["rss0.91", "rss1.0", "rss2.0", "atom", "jsonfeed", "news-sitemap"],
)
def test_every_common_feed_shape_yields_its_article_url(body: bytes, kind: str) -> None:
    """RSS 0.91/1.0/2.0, Atom, JSON Feed and a Google News sitemap each give the entry's canonical URL and title."""
    parsed = parse_feed(body, f"{BASE}/feed")
    assert parsed.kind == kind
    assert [(e.url, e.title) for e in parsed.entries] == [(f"{BASE}/one.html", "One")]


def test_feed_hints_for_the_scheduler_are_read() -> None:
    """RSS ttl (minutes) and sy:updatePeriod/updateFrequency reach the scheduler."""
    assert parse_feed(RSS20, BASE).ttl_minutes == 30
    assert parse_feed(RSS10, BASE).update_period == 900.0
    assert parse_feed(RSS20, BASE).entries[0].guid == "id-1"


XML_BASE_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Scoped bases</title>
  <entry xml:base="http://news.example/base/"><title>First</title><id>tag:news.example,2026:1</id>
    <link href="doc-one.html"/></entry>
  <entry><title>Second</title><id>tag:news.example,2026:2</id>
    <link rel="alternate" href="http://news.example/abs/doc-two.html"/></entry>
  <entry><title>Third</title><id>tag:news.example,2026:3</id><link href="doc-rel.html"/></entry>
  <entry xml:base="/elsewhere/"><title>Fourth</title><id>episode-4</id><link href="doc-four.html"/></entry>
  <entry><title>Fifth</title><id>episode-5</id></entry>
</feed>"""


def test_xml_base_is_scoped_to_the_entry_that_carries_it() -> None:
    """An entry's xml:base resolves its own links only; a later entry without one resolves
    against the feed's URL, and ids stay as written (a relative id is no link)."""
    parsed = parse_feed(XML_BASE_ATOM, f"{BASE}/feeds/atom.xml")
    assert [e.url for e in parsed.entries] == [
        f"{BASE}/base/doc-one.html",
        f"{BASE}/abs/doc-two.html",
        f"{BASE}/feeds/doc-rel.html",
        f"{BASE}/elsewhere/doc-four.html",
    ]
    assert [e.guid for e in parsed.entries][3] == "episode-4"


def test_billion_laughs_feed_is_refused() -> None:
    """A feed declaring entities (billion laughs) is refused before any parser expands them."""
    lol = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">""" + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">'.encode() for i in range(10)
    )
    lol += b"""]><rss version="2.0"><channel><title>&lol9;</title></channel></rss>"""
    with pytest.raises(PermanentError, match="entities"):
        parse_feed(lol, BASE)


def test_external_entity_sitemap_is_refused() -> None:
    """An XXE attempt in a sitemap is refused too."""
    xxe = b"""<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&x;</loc></url></urlset>"""
    with pytest.raises(PermanentError, match="entities"):
        parse_feed(xxe, BASE)


def test_a_body_that_is_a_file_name_is_not_read_as_a_file() -> None:
    """feedparser opens bytes that name a file; we hand it a stream, so /etc/passwd stays unread."""
    with pytest.raises(PermanentError, match="not a feed"):
        parse_feed(b"/etc/passwd", BASE)


TITLE = "Chính quyền thân thiện với người dân Việt Nam"


@pytest.mark.parametrize("where", ["header", "declaration"])
def test_windows_1258_feed_comes_out_as_nfc_text(where: str) -> None:
    """A Vietnamese feed in windows-1258 (tone marks as combining bytes) decodes to the precomposed title."""
    decl = b'<?xml version="1.0" encoding="windows-1258"?>' if where == "declaration" else b"<?xml version='1.0'?>"
    body = decl + b"<rss version='2.0'><channel><title>t</title><item><title>"
    body += encode_cp1258(TITLE) + b"</title><link>http://news.example/a.html</link></item></channel></rss>"
    parsed = parse_feed(body, BASE, "windows-1258" if where == "header" else None)
    assert parsed.entries[0].title == TITLE


# Links some servers read raw: an Invision forum's "?/topic/…/", a Domino database's bare
# "?OpenDocument", parameters in the order the site wrote them, a tracking parameter.
WRITTEN = [
    "https://dien-dan.example/index.php?/topic/12-cau-treo/&utm_source=rss",
    "https://dien-dan.example/tin.nsf/bai?OpenDocument&Start=2&Count=1",
    "https://dien-dan.example/xem.php?z=9&a=1",
]


@pytest.mark.parametrize("body", ["rss", "json", "sitemap"])
def test_an_entry_keeps_its_link_as_written_beside_its_canonical_url(body: str) -> None:
    """The canonical URL names the article; the link as written (fragment dropped) is what the
    server will be asked for, kept only where the two differ."""
    links = [*WRITTEN, "https://dien-dan.example/tin/cau-treo.html"]
    if body == "rss":
        items = "".join(f"<item><title>t</title><link>{u.replace('&', '&amp;')}#c</link></item>" for u in links)
        raw = f"<rss version='2.0'><channel><title>D</title>{items}</channel></rss>".encode()
    elif body == "json":
        feed = {"version": "https://jsonfeed.org/version/1.1", "title": "D", "items": [{"url": u} for u in links]}
        raw = json.dumps(feed).encode()
    else:
        locs = "".join(f"<url><loc>{u.replace('&', '&amp;')}</loc></url>" for u in links)
        raw = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'.encode()
    entries = parse_feed(raw, "https://dien-dan.example/feed").entries
    assert [e.url for e in entries] == [canonicalize_url(u) for u in links]
    assert [e.address for e in entries] == [*WRITTEN, None]
    assert entries[0].url != entries[0].address  # sorted, escaped and without the tracking parameter


def test_a_feed_is_polled_at_its_address_as_written_and_named_by_its_canonical_url() -> None:
    """The feed's id and state stay keyed by the canonical URL; the address survives the
    round trip through the shared state (JSON) and through OPML; an address that names
    another feed is refused."""
    written = "https://dien-dan.example/index.php?/rss/1-tin-moi.xml/&b=2&a=1"
    feed = FeedConfig(url=written + "#top", site="D")
    assert (feed.url, feed.fetch_url) == (canonicalize_url(written), written)
    assert FeedConfig.model_validate_json(feed.model_dump_json()) == feed
    assert [f.fetch_url for f in read_opml(write_opml([feed]))] == [written]
    plain = FeedConfig(url="https://dien-dan.example/feed.xml")
    assert (plain.address, plain.fetch_url) == (None, plain.url)
    with pytest.raises(ValueError, match="another page"):
        FeedConfig(url="https://dien-dan.example/feed.xml", address="https://dien-dan.example/khac.xml")


def test_header_charset_beats_the_xml_declaration() -> None:
    """The HTTP header is trusted over the document's own declaration."""
    body = b'<?xml version="1.0" encoding="iso-8859-1"?><x>' + encode_cp1258("Việt") + b"</x>"
    assert "Việt" in decode_xml(body, "windows-1258")


def test_home_page_announces_its_feeds() -> None:
    """<link rel=alternate> of RSS, Atom and JSON Feed types are found, resolved, in order; others ignored."""
    html = b"""<html><head><link rel="stylesheet" href="/s.css">
    <link rel="alternate" type="application/rss+xml" href="/rss.xml">
    <link rel="alternate" type="application/atom+xml" href="http://news.example/atom.xml">
    <link rel="alternate" type="application/feed+json" href="feed.json">
    <link rel="alternate" hreflang="fr" href="/fr/"></head><body></body></html>"""
    assert discover_feeds(html, f"{BASE}/") == [f"{BASE}/rss.xml", f"{BASE}/atom.xml", f"{BASE}/feed.json"]


@pytest.mark.parametrize(
    "href", ["/feed.xml", "/rss/", "/feeds/posts/default", "/atom", "/index.rss", "/tin-moi.rdf", "/?format=rss"]
)
def test_typeless_alternate_that_looks_like_a_feed_is_announced(href: str) -> None:
    """<link rel=alternate href="/feed.xml"> without type= (as the demo sites write it) is a feed when its address says so."""
    html = f'<html><head><link rel="alternate" href="{href}"></head><body></body></html>'.encode()
    assert discover_feeds(html, f"{BASE}/") == [canonicalize_url(href, base=f"{BASE}/")]


def test_typeless_alternates_for_languages_screens_or_styles_are_not_feeds() -> None:
    """A typeless alternate with hreflang (a translation) or media (a mobile page), an alternate
    stylesheet, and the page's own address are never taken for feeds, even with feed-like names."""
    html = b"""<html><head><link rel="alternate" hreflang="vi" href="/vi/feed.xml">
    <link rel="alternate" hreflang="x-default" href="/rss/">
    <link rel="alternate" media="only screen and (max-width: 640px)" href="http://m.news.example/feed/">
    <link rel="alternate stylesheet" href="/themes/atom.css">
    <link rel="alternate" href="/"></head><body></body></html>"""
    assert discover_feeds(html, f"{BASE}/") == []


def test_opml_round_trip_keeps_urls_names_and_languages() -> None:
    """Feeds written to OPML and read back are the same feeds; nested folders are read."""
    feeds = [
        FeedConfig(url="http://a.example/rss", site="A", language="vi"),
        FeedConfig(url="http://b.example/feed"),
    ]
    back = read_opml(write_opml(feeds))
    assert [(f.url, f.site_name, f.language) for f in back] == [(f.url, f.site_name, f.language) for f in feeds]
    nested = b"""<opml version="1.0"><body><outline text="News"><outline text="C" xmlUrl="http://c.example/rss"/>
    </outline><outline text="no feed"/></body></opml>"""
    assert [f.url for f in read_opml(nested)] == ["http://c.example/rss"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_parsing_any_bytes_either_yields_a_feed_or_a_permanent_error(body: bytes) -> None:
    """No input makes parse_feed raise anything but PermanentError."""
    with contextlib.suppress(PermanentError):
        parse_feed(body, BASE)


@given(st.lists(st.tuples(st.text(min_size=1, max_size=20), st.text(max_size=20)), max_size=5))
def test_entries_hash_ignores_the_build_date(items: list[tuple[str, str]]) -> None:
    """Two bodies differing only in lastBuildDate have the same entries hash."""

    def feed(date: str) -> bytes:
        from xml.sax.saxutils import escape

        xml_items = "".join(
            f"<item><title>{escape(t)}</title><link>http://x.example/{i}</link><guid>{escape(g) or i}</guid></item>"
            for i, (t, g) in enumerate(items)
        )
        channel = f"<title>t</title><lastBuildDate>{date}</lastBuildDate>{xml_items}"
        return f"<rss version='2.0'><channel>{channel}</channel></rss>".encode()

    a = parse_feed(feed("Mon, 10 Feb 2025 02:00:00 GMT"), BASE)
    b = parse_feed(feed("Tue, 11 Feb 2025 02:00:00 GMT"), BASE)
    assert a.entries_hash() == b.entries_hash()
