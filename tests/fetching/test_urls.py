"""URL canonicalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.urls import canonicalize_url, site_of


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
