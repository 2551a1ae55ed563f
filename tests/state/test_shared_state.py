"""Shared state in real Redis: site boilerplate statistics and the near-duplicate index."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.cleaning import block_fingerprint
from pipeline.dedup import SIG_VERSION, NearDupIndex
from pipeline.feeds import FeedConfig, FeedEntry, claim_entries
from pipeline.ingest import PageRef, ProcessDeps, process_page
from pipeline.models import article_id
from pipeline.state import DeadLetter, StateStore
from pipeline.state.docs import PageRecords
from pipeline.storage import DirectoryRawStore
from tests.faults import harness
from tests.search.noida import free_port
from tests.support import make_settings
from workers.api import metrics_text
from workers.runtime import Runtime

pytestmark = pytest.mark.integration

COMPACT_HASH = {"listpack", "ziplist"}  # Redis 7 calls a small hash's flat encoding listpack, Redis 6 ziplist

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


def test_a_sites_statistics_stay_small_and_compact_after_thousands_of_pages(runtime: Runtime) -> None:
    """Thousands of pages of unique blocks leave every key of the site within its cap and in
    Redis's compact encoding, and a block the site keeps printing is still found."""
    stats = runtime.state.boilerplate(min_pages=3)
    recurring = block_fingerprint("Subscribe to our newsletter for the morning briefing.")
    seen_on = []
    for i in range(3000):
        fps = [block_fingerprint(f"story {i} paragraph {j}") for j in range(30)]
        if i % 25 == 0:  # printed again and again, with many unique blocks in between
            fps.append(recurring)
            seen_on.append(i)
        stats.observe("busy", f"page-{i}", fps, now=1_000_000 + i)
    assert stats.known("busy", [recurring], now=1_003_000) == {recurring}
    assert stats.count("busy", recurring, now=1_003_000) == len(seen_on)
    # A block printed once, long ago, has been forgotten.
    assert stats.count("busy", block_fingerprint("story 0 paragraph 0"), now=1_003_000) == 0
    sizes = stats.sizes("busy")
    hashes = [s for s in sizes if ":cur" in s.key or ":prev" in s.key]
    lists = [s for s in sizes if s.key.endswith((":ids", ":fps"))]
    assert len(hashes) == 2 * stats.shards and len(lists) == 2
    assert all(s.entries <= stats.shard_size and s.encoding in COMPACT_HASH for s in hashes), hashes
    assert all(s.entries == stats.recent_pages for s in lists), lists
    # The recent pages that printed it are those of the last `recent_pages` pages.
    expected = {f"page-{i}" for i in seen_on if i >= 3000 - stats.recent_pages}
    assert set(stats.pages_with("busy", recurring)) == expected


def test_any_fingerprint_string_is_counted_apart_from_the_others(runtime: Runtime) -> None:
    """Fingerprints that are not 16 hex characters are digested, and still told apart."""
    stats = runtime.state.boilerplate(min_pages=2)
    stats.observe("s", "a", ["s-rail-0", "s-rail-1", "one"], now=10)
    second = stats.observe("s", "b", ["s-rail-0", "two"], now=20)
    assert second.boilerplate == {"s-rail-0"} and second.crossed == {"s-rail-0"}
    assert stats.counts("s", ["s-rail-0", "s-rail-1", "two", "never"], now=20) == {
        "s-rail-0": 2,
        "s-rail-1": 1,
        "two": 1,
        "never": 0,
    }
    assert set(stats.pages_with("s", "s-rail-0")) == {"a", "b"}


def test_blocks_unseen_for_the_window_are_forgotten(runtime: Runtime) -> None:
    """A count not refreshed within the window starts again from zero."""
    stats = runtime.state.boilerplate(min_pages=2, window_days=1)
    stats.observe("old", "p1", ["x"], now=0)
    stats.observe("old", "p2", ["x"], now=10)
    assert stats.count("old", "x", now=10) == 2
    assert stats.count("old", "x", now=10 + 2 * 86400) == 0  # two days later
    third = stats.observe("old", "p3", ["x"], now=10 + 2 * 86400)
    assert third.boilerplate == set() and stats.count("old", "x", now=10 + 2 * 86400) == 1


def test_page_records_are_kept_for_a_sites_recent_pages_only(runtime: Runtime, embedded_redis: str) -> None:
    """A site keeps the records of its last pages; older ones are gone, other sites unaffected."""
    state = StateStore.from_url(embedded_redis, cluster=harness.STATE_ON_CLUSTER, recent_pages=5)
    try:
        _remember_twelve_pages_and_check(state.pages)
    finally:
        state.close()


def _remember_twelve_pages_and_check(pages: PageRecords) -> None:
    message = {"url": "https://s.example/0", "final_url": "https://s.example/0", "ref": "ab" * 32, "site": "s"}
    for i in range(12):
        pages.remember(article_id(f"https://s.example/{i}"), json.dumps({**message, "url": f"https://s.example/{i}"}))
    pages.remember("t-1", json.dumps({**message, "site": "t"}))
    pages.remember(article_id("https://s.example/11"), json.dumps({**message, "reason": "reclean"}))  # again
    assert pages.count("s") == 5 and pages.count("t") == 1
    assert pages.recall(article_id("https://s.example/6"), "s") is None
    kept = pages.recall(article_id("https://s.example/7"), "s")
    assert kept is not None and json.loads(kept) == {**message, "url": "https://s.example/7"}
    assert json.loads(pages.recall(article_id("https://s.example/11"), "s") or "{}")["reason"] == "reclean"
    assert pages.recall("t-1", "s") is None and pages.recall("t-1", "t") is not None


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
    state = StateStore.from_url(
        runtime.redis_url, cluster=harness.STATE_ON_CLUSTER, seen_retention=30 * day, clock=clock
    )
    url = "https://tin.example/thoi-su/bai-viet-mot-2025.html"
    assert state.seen.claim(url) is True
    assert state.seen.claim(url) is False
    clock.now += 30 * day  # the retention window, to the day: still seen
    assert state.seen.claim(url) is False
    assert state.seen.count() == 1
    clock.now += 15 * day  # beyond retention plus one period: forgotten
    assert state.seen.claim(url) is True
    # Every shard carries a TTL, so Redis frees the old ones without a sweeper.
    layouts = [layout for index in state.seen.indexes if (layout := index.layout())["shards"]]
    assert layouts and all(0 < lay["ttl_min"] <= lay["ttl_max"] <= state.seen.ttl for lay in layouts)


def test_feed_guids_are_windowed_like_urls(runtime: Runtime) -> None:
    """A feed's GUID map forgets entries after the window too: its memory is bounded per feed."""
    clock = Clock()
    state = StateStore.from_url(
        runtime.redis_url, cluster=harness.STATE_ON_CLUSTER, seen_retention=3 * 86400.0, clock=clock
    )
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
    state = StateStore.from_url(runtime.redis_url, cluster=harness.STATE_ON_CLUSTER, dead_letters_max=3)
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


def test_documents_taken_just_before_an_outage_are_sent_again(runtime: Runtime) -> None:
    """A backend may lose its last acknowledged writes when it goes away: after the outage, what it
    took in the window before is pending again (a newer pending version is not overwritten)."""
    pending = runtime.state.pending
    pending.settle({"a": '{"v": 1}', "b": '{"v": 1}'}, {}, now=1000.0)
    pending.settle({"old": '{"v": 1}'}, {}, now=1000.0 - 500)  # long before: not sent again
    assert pending.resend_recent() == 0  # no outage, nothing to do
    runtime.state.commit(index={"b": '{"v": 2}'})  # a newer version of b waits already
    pending.mark_backend_away(1010.0)
    pending.mark_backend_away(1020.0)  # the first time counts
    assert pending.resend_recent() == 1
    assert pending.batch(10) == {"a": '{"v": 1}', "b": '{"v": 2}'}
    assert pending.resend_recent() == 0  # once per outage


def test_the_oldest_waiting_message_of_each_queue_has_an_age(tmp_path: Path) -> None:
    """The broker view reads the publish time of the next message to be taken from each queue."""
    from kombu import Connection

    server = harness.RedisServer(tmp_path / "redis", free_port()).start()
    try:
        with Connection(server.url) as conn:
            queue = conn.SimpleQueue("fetch")
            queue.put({"first": True}, headers={"nf_enqueued_at": time.time() - 30})
            queue.put({"second": True}, headers={"nf_enqueued_at": time.time() - 5})
            queue.close()
        state = StateStore.from_url(server.url, queues=("fetch", "process"))
        try:
            ages = state.broker.oldest_ages("nf_enqueued_at")
            assert state.broker.depths() == {"fetch": 2, "process": 0}
        finally:
            state.close()
    finally:
        server.stop()
    assert ages["process"] is None
    assert ages["fetch"] is not None and 29 <= ages["fetch"] < 60


def _page(store: DirectoryRawStore, slug: str, text: str, canonical: str) -> PageRef:
    paragraphs = "".join(f"<p>{text} Đoạn {i}: người dân kể lại chuyện của bản mình năm nay.</p>" for i in range(6))
    html = (
        f'<html lang="vi"><head><meta charset="utf-8"><title>{text[:40]}</title>'
        f'<link rel="canonical" href="{canonical}"></head><body><article><h1>{text[:40]}</h1>{paragraphs}'
        "</article></body></html>"
    )
    url = f"https://tin.example/tin-tuc/{slug}.html"
    return PageRef(url=url, final_url=url, ref=store.put(html.encode()), fetched_at="2025-03-01T00:00:00+00:00")


def test_pages_claiming_one_canonical_with_different_stories_stay_apart(runtime: Runtime, tmp_path: Path) -> None:
    """Same canonical, same story: one article (one story, several URLs). Same canonical, another story: two."""
    store = DirectoryRawStore(tmp_path / "raw")
    deps = ProcessDeps(store=store, neardup=NearDupIndex(runtime.state.neardup(SIG_VERSION)), state=runtime.state)
    canonical = "https://tin.example/tin-tuc/bai-goc.html"
    flood = "Mưa lớn kéo dài làm nước sông dâng cao, nhiều hộ dân vùng trũng phải di dời đồ đạc lên chỗ cao."
    tea = "Hợp tác xã chè Shan tuyết ký hợp đồng bán toàn bộ sản lượng vụ xuân cho một công ty xuất khẩu."
    first = process_page(_page(store, "mua-lon", flood, canonical), deps).article
    again = process_page(_page(store, "mua-lon-2", flood, canonical), deps).article
    other = process_page(_page(store, "che-shan", tea, canonical), deps).article
    assert first.id == again.id and first.canonical_url == canonical
    assert other.id != first.id and other.canonical_url == "https://tin.example/tin-tuc/che-shan.html"


def test_the_watched_sites_are_listed_without_scanning_the_keyspace(runtime: Runtime) -> None:
    """A site's first drift sample enters the set of watched sites that `drift list` reads;
    accepting the site takes it out; windows written before the set existed are found once."""
    from pipeline.state import keys
    from pipeline.state.drift import PageSample

    def scans() -> int:
        return sum(int(node.get("cmdstat_scan", {}).get("calls", 0)) for node in _commandstats(runtime))

    windows = runtime.state.drift
    sample = PageSample(length=1800, no_text=False, teasers=2)
    windows.add("tin.example", sample, baseline=3, recent=2)
    windows.add("tin.example", sample, baseline=3, recent=2)
    windows.add("gazette.example", sample, baseline=3, recent=2)
    assert windows.sites() == ["gazette.example", "tin.example"]  # the first sight needs no scan
    before = scans()
    assert windows.sites() == ["gazette.example", "tin.example"]
    assert scans() == before
    assert windows.forget("tin.example") and windows.sites() == ["gazette.example"]
    # Windows of an earlier newsflow, without the set: adopted by one scan, then read from the set.
    runtime.state.drift.r.delete(keys.DRIFT_SITES)
    assert windows.sites() == ["gazette.example"]
    before = scans()
    assert windows.sites() == ["gazette.example"] and scans() == before


def _commandstats(runtime: Runtime) -> list[dict[str, Any]]:
    """INFO commandstats of the state's Redis, of every node on a cluster."""
    r = runtime.state.drift.r
    if harness.STATE_ON_CLUSTER:
        from redis.cluster import RedisCluster

        return list(r.info("commandstats", target_nodes=RedisCluster.PRIMARIES).values())  # type: ignore[call-arg]
    return [r.info("commandstats")]
