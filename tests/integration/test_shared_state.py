"""Shared state in real Redis: site boilerplate statistics and the near-duplicate index."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.dedup import SIG_VERSION, NearDupIndex
from pipeline.feeds import FeedConfig, FeedEntry, claim_entries
from pipeline.state import DeadLetter, StateStore
from tests.conftest import make_settings
from tests.contract.noida import free_port
from workers.api import metrics_text
from workers.runtime import Runtime

pytestmark = pytest.mark.integration

STORY = (
    "Heavy rain overnight pushed the river above its banks in three districts. Emergency crews moved more than "
    "four hundred residents to schools on higher ground, and the regional road north of the bridge was closed. "
    "The weather office expects the water to fall slowly from Thursday, but warned of landslides on the hill roads."
)


def test_a_block_becomes_boilerplate_on_the_kth_distinct_page(runtime: Runtime) -> None:
    """Counts are per distinct page: the same page seen twice counts once; K pages cross."""
    stats = runtime.state.boilerplate(min_pages=3)
    assert stats.observe("s", "p1", ["rail", "a1"], now=100).boilerplate == set()
    assert stats.observe("s", "p1", ["rail", "a1"], now=101).boilerplate == set()  # same page again
    assert stats.observe("s", "p2", ["rail", "b1"], now=102).boilerplate == set()
    third = stats.observe("s", "p3", ["rail", "c1"], now=103)
    assert third.boilerplate == {"rail"} and third.crossed == {"rail"}
    # Earlier pages that printed it are returned for re-cleaning; later pages see it at once.
    assert set(stats.pages_with("s", "rail")) == {"p1", "p2", "p3"}
    fourth = stats.observe("s", "p4", ["rail", "d1"], now=104)
    assert fourth.boilerplate == {"rail"} and fourth.crossed == set()
    # Another site learns nothing from this one.
    assert stats.observe("other", "q1", ["rail"], now=105).boilerplate == set()


def test_statistics_stay_bounded_and_forget_old_blocks(runtime: Runtime) -> None:
    """At most max_blocks fingerprints per site; blocks unseen for the window are forgotten."""
    stats = runtime.state.boilerplate(min_pages=2, window_days=1, max_blocks=50)
    for i in range(200):
        stats.observe("big", f"p{i}", [f"unique-{i}-{j}" for j in range(3)], now=1000 + i)
    counted, recent = stats.sizes("big")
    assert counted <= 50 and recent <= 50
    stats.observe("old", "p1", ["x"], now=0)
    stats.observe("old", "p2", ["x"], now=10)
    assert stats.count("old", "x") == 2
    stats.observe("old", "p3", ["y"], now=10 + 2 * 86400)  # two days later
    assert stats.count("old", "x") == 0


def test_near_duplicates_share_the_first_articles_cluster(runtime: Runtime) -> None:
    """A republished copy joins the original's cluster; an unrelated story starts its own."""
    index = NearDupIndex(runtime.state.neardup(SIG_VERSION))
    first = index.assign("orig", STORY)
    assert first.cluster_id == "orig" and first.duplicate_of is None
    copy = index.assign("copy", "Republished from the Valley Times. " + STORY)
    assert copy.cluster_id == "orig" and copy.duplicate_of == "orig"
    other = index.assign("other", "The council approved a new budget for school meals, after a long debate on costs.")
    assert other.cluster_id == "other" and other.duplicate_of is None
    # Re-running the original (a redelivered task) keeps it the cluster's root.
    assert index.assign("orig", STORY).cluster_id == "orig"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_seen_urls_are_remembered_for_the_retention_window_only(runtime: Runtime) -> None:
    """A URL stays claimed for the retention window, then is new again; old generations expire by themselves."""
    clock = Clock()
    day = 86400.0
    state = StateStore.from_url(runtime.redis_url, seen_retention=30 * day, clock=clock)
    url = "https://tin.example/thoi-su/bai-viet-mot-2025.html"
    assert state.seen.claim(url) is True
    assert state.seen.claim(url) is False
    clock.now += 30 * day  # the retention window, to the day: still seen
    assert state.seen.claim(url) is False
    assert state.seen.count() == 1
    clock.now += 15 * day  # beyond retention plus one period: forgotten
    assert state.seen.claim(url) is True
    # Every generation carries a TTL, so Redis frees the old ones without a sweeper.
    ttls = state.seen.ttls()
    assert ttls and all(0 < t <= state.seen.ttl for t in ttls)


def test_feed_guids_are_windowed_like_urls(runtime: Runtime) -> None:
    """A feed's GUID map forgets entries after the window too: its memory is bounded per feed."""
    clock = Clock()
    state = StateStore.from_url(runtime.redis_url, seen_retention=3 * 86400.0, clock=clock)
    feed = FeedConfig(url="https://tin.example/rss/home.rss")
    entry = FeedEntry(url="https://tin.example/a-b-c.html", guid="tin-1", title="A", published_at=None)
    moved = FeedEntry(url="https://tin.example/a-b-c-d.html", guid="tin-1", title="A", published_at=None)
    assert claim_entries(state, feed, [entry])[0] == ["new"]
    assert claim_entries(state, feed, [moved])[0] == ["moved"]
    clock.now += 10 * 86400.0
    verdicts, work = claim_entries(state, feed, [entry])
    assert verdicts == ["new"]
    # The new entry's fetch work entered the ledger with the claim.
    assert [w.kwargs["url"] for w in work] == [entry.url]
    assert state.work.get(work[0].id) is not None
    ttls = state.feeds.guid_ttls(feed.id)
    assert ttls and all(t > 0 for t in ttls)


def test_dead_letters_keep_the_newest_and_count_the_rest(runtime: Runtime) -> None:
    """The dead-letter list is capped: the newest entries stay, the dropped ones are counted."""
    state = StateStore.from_url(runtime.redis_url, dead_letters_max=3)
    for n in range(5):
        state.commit(dead=DeadLetter("fetch.page", f"HTTP 404 ({n})", args=[f"https://tin.example/{n}.html"]))
    assert state.dead.count() == 3
    assert [d.error for d in state.dead.entries()] == ["HTTP 404 (2)", "HTTP 404 (3)", "HTTP 404 (4)"]
    assert state.stats()["dead_letters_trimmed"] == 2
    assert state.stats()["failed"] == 5


def test_metrics_are_served_while_the_search_backend_is_down(data_dir: Path, embedded_redis: str) -> None:
    """/metrics still reports queues and waiting articles, and says the search backend is down."""
    closed = free_port()  # nothing listens there
    rt = Runtime(make_settings(data_dir, embedded_redis, elasticsearch_url=f"http://127.0.0.1:{closed}"))
    try:
        rt.state.commit(index={"waiting-article": "{}"})
        text = metrics_text(rt)
    finally:
        rt.state.pending.settle({"waiting-article": "{}"}, {})
        rt.close()
    assert "newsflow_search_up 0" in text
    assert "newsflow_index_pending 1" in text
    assert 'newsflow_queue_depth{queue="fetch"}' in text
    assert "newsflow_articles " not in text
