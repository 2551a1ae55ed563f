"""What the fuzzer found, each kept as a plain example. Pure code."""

from __future__ import annotations

import pytest

from pipeline.charset import decode_html, decode_xml
from pipeline.errors import InvalidURL, PermanentError
from pipeline.feeds import parse_feed
from pipeline.urls import canonicalize_url

FEED_URL = "https://tin.example/rss/home.rss"


def rss(items: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Tin</title>{items}</channel></rss>'.encode()


@pytest.mark.parametrize("date", ["0000-00-00T00:00:00Z", "Sat, 00 Jan 0000 00:00:00 GMT"])
def test_an_impossible_date_leaves_the_item_undated_not_the_feed_unread(date: str) -> None:
    """feedparser reads "0000-00-00" as year 0; datetime refused it and the whole feed was lost."""
    feed = parse_feed(
        rss(f"<item><title>x</title><link>https://tin.example/a.html</link><pubDate>{date}</pubDate></item>"), FEED_URL
    )
    assert [(e.url, e.published_at) for e in feed.entries] == [("https://tin.example/a.html", None)]


def test_a_reference_to_a_surrogate_does_not_break_a_sitemap_or_a_broken_feed() -> None:
    """`&#xD800;` came out of lxml's recovering parser as bytes it could not decode, and crashed feedparser's loose one."""
    sitemap = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://tin.example/a.html</loc>'
        b"<lastmod>&#xD800;</lastmod></url><url><loc>https://tin.example/b.html</loc></url></urlset>"
    )
    assert [e.url for e in parse_feed(sitemap, FEED_URL).entries] == [
        "https://tin.example/a.html",
        "https://tin.example/b.html",
    ]
    broken = b"\x00" + rss(
        "<item><title>&#xD800;&#55296;&#x110000;</title><link>https://tin.example/c.html</link></item>"
    )
    assert [e.title for e in parse_feed(broken, FEED_URL).entries] == ["\ufffd\ufffd\ufffd"]
    assert decode_xml(b"<a>&#0; &#8217; &#x41;</a>") == "<a>&#xFFFD; &#8217; &#x41;</a>"


@pytest.mark.parametrize("label", ["undefined", "idna", "base64", "unicode_escape", "utf-8\x00"])
def test_a_charset_label_naming_no_text_codec_is_ignored(label: str) -> None:
    """Python knows codecs no page is written in ("undefined" always raises); a NUL in a label raised too."""
    assert decode_html("<p>café \\d</p>".encode(), label) == "<p>café \\d</p>"
    with pytest.raises(PermanentError, match="not a feed"):
        parse_feed(b"<p>not a feed</p>", FEED_URL, label)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/a", "http://[::1/a", "http://1.2.3.999/", "http://[fe80::1%25eth0]/", "http://example.org:x/"],
)
def test_a_url_that_cannot_be_fetched_is_an_invalid_url_with_a_one_line_reason(url: str) -> None:
    """Also a ValueError, as every caller catches; urllib's and ipaddress' own errors come out the same way."""
    with pytest.raises(InvalidURL) as refused:
        canonicalize_url(url)
    assert isinstance(refused.value, ValueError)
    assert "\n" not in str(refused.value) and url.split("/")[2][:8] in str(refused.value)


def test_an_error_quotes_a_huge_url_in_part() -> None:
    """A megabyte of address is not a megabyte of log line."""
    with pytest.raises(InvalidURL) as refused:
        canonicalize_url("ftp://example.org/" + "a" * 1_000_000)
    assert len(str(refused.value)) < 500


def test_a_feed_that_feedparser_cannot_read_is_refused_with_a_reason() -> None:
    """A no-break space in a namespace URI made feedparser's strict parser raise ValueError, which escaped."""
    body = (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22\u00a0rdf#" xmlns="http://purl.org/rss/1.0/">'
        '<item rdf:about="x"><title>t</title><link>https://tin.example/a.html</link></item></rdf:RDF>'
    ).encode()
    with pytest.raises(PermanentError, match="unreadable XML"):
        parse_feed(body, FEED_URL)


def test_a_link_feedparser_keeps_as_text_is_skipped_not_fatal() -> None:
    """From broken Atom, feedparser's loose parser listed a link as a string; reading it as a mapping crashed."""
    body = (
        b'</br><feed xmlns="http://www.w3.org/2005/Atom"><title>N</title><entry><title>a</title><id>e1</id>'
        b'<linkS href="https://tin.example/a.html"/></entry></feed>'
    )
    assert parse_feed(body, FEED_URL).entries == []


@pytest.mark.parametrize("reference", ["&#65534;", "&#xFFFF;", "&#xD800;", "&#1;", "&#x110000;"])
def test_a_reference_to_a_character_xml_forbids_is_left_out_of_a_page(reference: str) -> None:
    """The parser turned `&#65534;` into U+FFFE, which reached the body (and lxml refuses it in any text it builds)."""
    assert decode_html(f"<p>The{reference} worst</p>".encode()) == "<p>The worst</p>"
    assert decode_html(b"<p>&#8217;&#x41;&#65</p>") == "<p>&#8217;&#x41;&#65</p>"


def test_a_character_xml_forbids_is_left_out_of_a_feed() -> None:
    """U+FFFE in a sitemap's namespace made lxml refuse to name the root element: ValueError escaped."""
    body = '<urlset xmlns="http://www.sitemaps.org/schemas/sit\ufffeemap/0.9"><url><loc>https://tin.example/a.html</loc></url></urlset>'
    assert [e.url for e in parse_feed(body.encode(), FEED_URL).entries] == ["https://tin.example/a.html"]
    assert decode_xml("<a>x\x00\x0b\uffffy\tz</a>".encode()) == "<a>xy\tz</a>"


def test_a_sitemap_whose_namespace_holds_a_brace_is_read_not_crashed() -> None:
    """lxml spells a name `{namespace}local`: a "}" in the namespace made QName raise ValueError."""
    body = b'<urlset xmlns="http://www.sa}itemaps.org/x"><url><loc>https://tin.example/a.html</loc></url></urlset>'
    assert parse_feed(body, FEED_URL).kind == "sitemap"  # not the sitemap namespace: no entries, no crash


def test_a_host_that_maps_to_dots_has_no_host() -> None:
    """IDNA maps "…" to "...": the canonical form had a host of dots that canonicalised to an error."""
    with pytest.raises(InvalidURL, match="no host"):
        canonicalize_url("http://user@\u2026:80/a")
