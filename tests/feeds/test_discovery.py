"""`feeds add https://site/`: finding the feeds a home page announces, against real sites on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from demo import demo_sites
from demo.server import SiteServer
from pipeline.feeds import find_feeds
from pipeline.fetching import Fetcher
from tests.feeds.helpers import FeedRoute, local_fetcher, rss

pytestmark = pytest.mark.integration


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    f = local_fetcher()
    yield f
    f.close()


def test_demo_home_pages_lead_to_their_feeds(fetcher: Fetcher) -> None:
    """Every bundled demo site's home page leads `feeds add` to a feed (one writes its link without type=)."""
    for folder, _meta in demo_sites():
        with SiteServer(folder) as srv:
            found = find_feeds(srv.base + "/", fetcher, 1_000_000)
            assert found, f"no feed found on the home page of {folder.name}"
            assert all(url.startswith(srv.base) for url in found)


def test_typeless_alternate_is_confirmed_by_fetching_it(fetcher: Fetcher, tmp_path: Path) -> None:
    """A typeless alternate whose address says nothing is fetched: kept when it is a feed, dropped when a page;
    translations (hreflang) are never fetched."""
    (tmp_path / "index.html").write_text(
        '<html><head><link rel="alternate" href="/ban-tin">'
        '<link rel="alternate" href="/print/">'
        '<link rel="alternate" hreflang="en" href="/en/"></head><body><p>Trang chủ</p></body></html>'
    )
    (tmp_path / "print").mkdir()
    (tmp_path / "print" / "index.html").write_text("<html><body><p>Bản in</p></body></html>")
    route = FeedRoute()
    with SiteServer(tmp_path, routes={"/ban-tin": route}) as srv:
        route.body = rss(srv.base, [("bai-mot.html", "g1")], title="Bản tin")
        assert find_feeds(srv.base + "/", fetcher, 1_000_000) == [f"{srv.base}/ban-tin"]
        assert "/en/" not in srv.requests
        assert sorted(srv.requests) == ["/", "/ban-tin", "/print/"]
