"""URL canonicalisation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demo.server import SiteServer
from pipeline.urls import canonicalize_url, site_of
from tests.feeds.helpers import local_fetcher, redirect
from tests.hostile.servers import send


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTP://Example.COM:80/a/b.html#top", "http://example.com/a/b.html"),
        ("https://example.com:443/x?utm_source=rss&id=7&fbclid=zz", "https://example.com/x?id=7"),
        ("https://example.com/x?b=2&a=1", "https://example.com/x?a=1&b=2"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/%7Euser/%c3%a9t%c3%a9", "https://example.com/~user/%C3%A9t%C3%A9"),
        ("https://báo.example/tin", "https://xn--bo-mia.example/tin"),
        ("https://example.com:8080/x", "https://example.com:8080/x"),
    ],
)
def test_canonical_forms(raw: str, canonical: str) -> None:
    """Case, default ports, fragments, tracking parameters and escapes are normalised."""
    assert canonicalize_url(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("http://tin.example/news.nsf/story?OpenDocument", "http://tin.example/news.nsf/story?OpenDocument"),
        ("http://tin.example/story.cgi?print&id=3&utm_source=rss", "http://tin.example/story.cgi?id=3&print"),
        ("http://tin.example/a?b=&a", "http://tin.example/a?a&b="),
    ],
)
def test_a_parameter_without_a_value_keeps_its_spelling(raw: str, canonical: str) -> None:
    """The canonical URL is the one fetched: "?OpenDocument=" is another request to a server
    that reads the query as written, so a bare parameter gains no "=" (and "b=" keeps it)."""
    assert canonicalize_url(raw) == canonical
    assert canonicalize_url(canonical) == canonical


@pytest.mark.parametrize("bad", ["ftp://example.com/x", "mailto:a@b.c", "/relative/only", "https://:80/x"])
def test_non_http_urls_are_refused(bad: str) -> None:
    """Anything but an absolute http(s) URL is a clear ValueError."""
    with pytest.raises(ValueError):
        canonicalize_url(bad)


def test_relative_links_resolve_against_a_base() -> None:
    """A relative href becomes absolute against the page it came from."""
    assert canonicalize_url("../b.html?utm_medium=x", base="https://ex.com/a/c/d.html") == "https://ex.com/a/b.html"


def test_site_keeps_a_non_default_port_and_drops_www() -> None:
    """Two servers on one host but different ports are different sites."""
    assert site_of("https://www.example.com/x") == "example.com"
    assert site_of("http://127.0.0.1:8001/x") != site_of("http://127.0.0.1:8002/x")


_segment = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/?#%"), max_size=8)


@given(
    host=st.sampled_from(["Example.com", "news.EXAMPLE.org", "127.0.0.1", "xn--bo-mia.example"]),
    path=st.lists(_segment, max_size=4),
    params=st.lists(st.tuples(st.sampled_from(["id", "utm_source", "page", "fbclid", "q"]), _segment), max_size=4),
    fragment=_segment,
)
def test_canonicalize_is_idempotent(host: str, path: list[str], params: list[tuple[str, str]], fragment: str) -> None:
    """Canonicalising a canonical URL changes nothing."""
    from urllib.parse import quote

    query = "&".join(f"{k}={quote(v)}" for k, v in params)
    url = f"https://{host}/{'/'.join(quote(p) for p in path)}?{query}#{quote(fragment)}"
    once = canonicalize_url(url)
    assert canonicalize_url(once) == once
    assert "utm_source" not in once and "fbclid" not in once and "#" not in once


def test_a_redirect_is_followed_to_the_address_it_gives(tmp_path: Path) -> None:
    """A redirect's query is asked for as written: bare parameters, slashes, a tracking parameter
    and the order stay; only the fragment goes. (They used to be canonicalised first, so a
    Domino server was asked for "?OpenDocument=" and a forum for "?%2Ftopic%2F12%2F".)"""
    target = "/news.nsf/story?OpenDocument&b=2&a=/topic/12/&utm_source=rss"
    routes = {"/go": redirect(target + "#top"), "/news.nsf/story": send(b"<p>Tin</p>", {})}
    fetcher = local_fetcher()
    try:
        with SiteServer(tmp_path, routes=routes) as srv:
            result = fetcher.fetch(f"{srv.base}/go")
            assert srv.requests == ["/go", target]
    finally:
        fetcher.close()
    assert result.body == b"<p>Tin</p>"
    assert result.final_url == srv.base + target
