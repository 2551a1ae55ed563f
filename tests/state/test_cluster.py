"""The shared state on a real three-master Redis Cluster (`NEWSFLOW_REDIS_CLUSTER`): the seen
map and the work ledger split into partitions spread over every node, a URL's claim and its
work in one partition, the hand-off and the reconciler's reads across partitions, and no
command that scans the keyspace."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from redis.crc import key_slot

from pipeline.feeds import FeedConfig, FeedEntry, claim_entries
from pipeline.stages import QUEUES, fetch_work, process_work
from pipeline.state import DeadLetter, StateStore, connect, keys
from tests.faults.harness import RedisClusterServers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(tmp_path_factory.mktemp("cluster")).start()
    yield servers
    servers.stop()


@pytest.fixture
def state(cluster: RedisClusterServers) -> Iterator[StateStore]:
    store = StateStore.from_url(cluster.url, cluster=True, queues=QUEUES)
    store.clear()
    yield store
    store.close()


def per_node(cluster: RedisClusterServers, command: str) -> list[int]:
    """How often each node ran `command`."""
    out = []
    for node in cluster.nodes:
        client = connect(node.url)
        try:
            out.append(int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)))
        finally:
            client.close()
    return out


def test_partitions_spread_evenly_over_any_equal_split_of_the_slots() -> None:
    """Partition p's slot lies in the p-th 128th of the slots: three nodes get 42 or 43 each."""
    parts = keys.partitions(keys.PARTITIONS)
    slots = [key_slot(p.work.encode()) for p in parts]
    assert len(set(slots)) == keys.PARTITIONS
    assert sorted(Counter(s * 3 // 16384 for s in slots).values()) == [42, 43, 43]
    assert keys.partitions(1)[0].work == keys.WORK  # one Redis keeps the `{core}` keys


def test_feed_claims_place_each_url_and_its_work_in_one_partition_on_every_node(
    state: StateStore, cluster: RedisClusterServers
) -> None:
    """A poll of 300 entries: every URL's seen entry and fetch work share a partition, the
    partitions are on all three nodes, a second poll finds every entry seen, a GUID that
    moved to a URL of another partition is still known as moved, and nothing scanned."""
    scans = per_node(cluster, "scan")
    feed = FeedConfig(url="http://127.0.0.1/feed.xml")
    entries = [FeedEntry(url=f"http://127.0.0.1/a/{i}", guid=f"g{i}", title="", published_at=None) for i in range(300)]
    verdicts, work = claim_entries(state, feed, entries)
    assert verdicts == ["new"] * 300 and len(work) == 300
    assert state.work.counts().total == 300
    for item in work:
        part = state.work.part(item.id)
        assert part == state.seen.parts[keys.partition_of_digest(_digest(item.kwargs["url"]), keys.PARTITIONS)]
        assert state.work.r.hexists(part.work, item.id)
    # The cluster deals its slots out in three equal ranges: a partition's node is its slot's third.
    used = [p for p in state.work.parts if state.work.r.exists(p.work)]
    per = Counter(key_slot(p.work.encode()) * 3 // 16384 for p in used)
    assert len(used) > 100 and sorted(per) == [0, 1, 2], per
    again, _ = claim_entries(state, feed, entries)
    assert again == ["seen"] * 300
    moved = [FeedEntry(url=f"http://127.0.0.1/b/{i}", guid=f"g{i}", title="", published_at=None) for i in range(40)]
    verdicts, more = claim_entries(state, feed, moved)
    assert verdicts == ["moved"] * 40 and more == []
    assert state.seen.count() == 340
    assert per_node(cluster, "scan") == scans


def test_the_hand_off_and_the_reconcilers_reads_span_the_partitions(
    state: StateStore, cluster: RedisClusterServers
) -> None:
    """`commit` ends an item and records its successors in other partitions; the ledger's
    readers (counts, unpublished, due, items, running, live counts) see every partition."""
    scans = per_node(cluster, "scan")
    now = time.time()
    items = [fetch_work(f"http://127.0.0.1/h/{i}") for i in range(50)]
    state.work.record(items, now)
    state.work.mark_sent([i.id for i in items[:30]], now)
    assert state.work.counts().total == 50
    assert set(state.work.unpublished(now + 1)) == {i.id for i in items[30:]}
    snap = state.delivery_snapshot(now + 1, grace=20, lease=300)
    assert snap.live["fetch"] == 30 and snap.waiting["fetch"] == 0

    done = items[0]
    successors = [process_work({"url": f"http://127.0.0.1/p/{i}"}, f"page{i}") for i in range(5)]
    assert len({state.work.part(s.id) for s in successors} | {state.work.part(done.id)}) > 1
    state.commit(done=done.id, add=successors, index={"doc-1": "{}"})
    assert state.work.get(done.id) is None
    assert set(state.work.items(s.id for s in successors)) == {s.id for s in successors}
    assert state.pending.count() == 1

    deferred = items[1]
    state.commit(done=deferred.id, defer=(deferred, now + 5))
    assert state.work.due(now + 6) == {deferred.id: now + 5}
    assert [i.id for i in state.work.claim_due([deferred.id], now + 6)] == [deferred.id]

    assert state.work.start(items[2].id, "w1@h", "tag-1", now)
    assert set(state.work.running()) == {items[2].id}
    state.work.release([items[2].id])
    assert state.work.running() == {}

    state.commit(done=items[3].id, dead=DeadLetter(task=items[3].task, error="boom", work=items[3]))
    assert state.dead.count() == 1
    (letter,) = state.dead.take_for_replay(now)
    assert letter.work == items[3] and state.work.get(items[3].id) == items[3] and state.dead.count() == 0
    assert state.work.counts().total == 50 - 1 + 5
    assert per_node(cluster, "scan") == scans


def test_an_import_batch_claims_across_partitions_and_moves_its_offset(state: StateStore) -> None:
    """A WARC import's batch on the cluster: new pages queued once, the offset and counts move."""
    pages = [
        (_digest(f"http://127.0.0.1/w/{i}"), process_work({"url": f"http://127.0.0.1/w/{i}"}, f"w{i}"))
        for i in range(60)
    ]
    state.imports.begin("imp", file="a.warc", size=1000)
    assert state.imports.commit("imp", offset=500, records=70, skipped={"not_html": 10}, pages=pages) == [True] * 60
    assert state.imports.commit("imp", offset=900, records=60, skipped={}, pages=pages) == [False] * 60
    got = state.imports.get("imp") or {}
    assert (got["offset"], got["queued"], got["records"], got["skip:seen"], got["skip:not_html"]) == (
        "900",
        "60",
        "130",
        "60",
        "10",
    )
    assert state.imports.open_work(p.id for _, p in pages) == {p.id for _, p in pages}


def _digest(url: str) -> str:
    from pipeline.state import url_digest

    return url_digest(url)


def test_queued_scripts_go_to_their_nodes_without_asking_for_their_keys(
    state: StateStore, cluster: RedisClusterServers
) -> None:
    """The near-duplicate index files each band through a script queued on a cluster pipeline:
    every node runs its share, and no node is asked for a script's keys (`COMMAND GETKEYS`,
    one more round trip per script, which redis-py's cluster pipeline would otherwise send)."""
    from pipeline.dedup import SIG_VERSION, NearDupIndex

    index = NearDupIndex(state.neardup(SIG_VERSION), clock=lambda: 1_800_000_000.0)
    asked, evals = per_node(cluster, "command"), per_node(cluster, "eval")
    first = index.assign("a" * 32, "the harbour bridge reopened on monday after six months of repairs " * 8)
    again = index.assign("b" * 32, "the harbour bridge reopened on monday after six months of repairs " * 8)
    assert again.cluster_id == first.cluster_id  # the bands were filed where the lookups read them
    assert per_node(cluster, "command") == asked
    assert all(after > before for before, after in zip(evals, per_node(cluster, "eval"), strict=True))


def test_a_feeds_guid_map_forgets_what_it_held_past_the_window(state: StateStore, cluster: RedisClusterServers) -> None:
    """The partitioned claim reads a feed's GUID maps as the single-Redis claim does: a map left
    idle past the window is forgotten first, so an old GUID is new again, not 'moved'."""
    now = [1_800_000_000.0]
    store = StateStore.from_url(cluster.url, cluster=True, seen_retention=3 * 86400.0, clock=lambda: now[0])
    try:  # on the cluster `state` has cleared
        feed = FeedConfig(url="https://tin.example/rss/home.rss")
        entry = FeedEntry(url="https://tin.example/a-b-c.html", guid="tin-1", title="A", published_at=None)
        moved = FeedEntry(url="https://tin.example/a-b-c-d.html", guid="tin-1", title="A", published_at=None)
        assert claim_entries(store, feed, [entry])[0] == ["new"]
        assert claim_entries(store, feed, [moved])[0] == ["moved"]
        now[0] += 10 * 86400.0
        assert claim_entries(store, feed, [entry])[0] == ["new"]
    finally:
        store.close()
