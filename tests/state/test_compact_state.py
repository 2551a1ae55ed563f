"""Per-article state that stays small in a real Redis: seen URLs and feed GUID maps."""

from __future__ import annotations

import pytest

from pipeline.feeds import FeedConfig, FeedEntry, claim_entries
from pipeline.state import url_digest
from pipeline.state.feeds import GUID_MAP_MIN
from workers.runtime import Runtime

pytestmark = pytest.mark.integration


def test_seen_urls_stay_compact_and_exact(runtime: Runtime) -> None:
    """Thousands of URLs: each claimed once, all remembered, every shard in the compact encoding."""
    seen = runtime.state.seen
    urls = [f"https://tin.example/bai-{n}.html" for n in range(3000)]
    for i in range(0, len(urls), 100):
        assert all(seen.claim_digests([url_digest(u) for u in urls[i : i + 100]]))
    assert not any(seen.claim(u) for u in urls[::97])
    assert seen.count() == len(urls)
    layout = seen.index.layout()
    assert layout["not_compact"] == 0 and 0 < layout["largest"] < 128, layout
    assert 0 < layout["ttl_min"] <= layout["ttl_max"] <= seen.ttl


def test_a_feeds_guid_map_is_bounded_but_keeps_what_the_feed_still_lists(runtime: Runtime) -> None:
    """A busy feed turns its GUID map over, yet an entry it keeps listing is still recognised
    when the site moves it to a new URL."""
    state = runtime.state
    feed = FeedConfig(url="https://zeitung.example/rss.xml")
    pinned = FeedEntry(url="https://zeitung.example/dossier.html", guid="dossier-1", title="D", published_at=None)
    for poll in range(40):
        fresh = [
            FeedEntry(
                url=f"https://zeitung.example/n/{poll}-{k}.html", guid=f"g-{poll}-{k}", title="N", published_at=None
            )
            for k in range(10)
        ]
        verdicts, _work = claim_entries(state, feed, [pinned, *fresh])
        assert verdicts[1:] == ["new"] * 10
        assert verdicts[0] == ("new" if poll == 0 else "seen")
    sizes = state.feeds.guid_map_sizes(feed.id)
    assert sum(sizes) <= 2 * (GUID_MAP_MIN + 2), sizes  # 400 GUIDs went through
    moved = FeedEntry(url="https://zeitung.example/dossier-2026.html", guid="dossier-1", title="D", published_at=None)
    assert claim_entries(state, feed, [moved])[0] == ["moved"]
