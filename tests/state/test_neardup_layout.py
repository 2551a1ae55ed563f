"""The near-duplicate index in a real Redis: compact however many articles it holds, and
still finding copies registered epochs apart."""

from __future__ import annotations

import random

import pytest

from pipeline.dedup import SIG_VERSION, NearDupIndex
from pipeline.state.neardup import decode_id, encode_id
from pipeline.state.shards import FIRST_SHARDS, PER_SHARD
from workers.runtime import Runtime

pytestmark = pytest.mark.integration

WORDS = [
    "river",
    "council",
    "budget",
    "school",
    "bridge",
    "harbour",
    "election",
    "festival",
    "market",
    "railway",
    "hospital",
    "museum",
    "village",
    "storm",
    "minister",
    "library",
    "farmers",
    "stadium",
    "airport",
    "ferry",
    "tunnel",
    "orchestra",
    "vineyard",
    "glacier",
]


def story(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(120)) + f" story {n}."


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_ids_are_packed_and_read_back() -> None:
    hexid = "0123456789abcdef0123456789abcdef"
    assert decode_id(encode_id(hexid)) == hexid and len(encode_id(hexid)) == 17
    assert decode_id(encode_id("orig")) == "orig"
    assert decode_id(bytes(17)) is None
    with pytest.raises(ValueError, match="near-duplicate ids"):
        encode_id("an-id-that-is-far-too-long-to-fit")


def test_the_index_stays_compact_and_finds_copies_across_epochs(runtime: Runtime) -> None:
    """Thousands of stories open several epochs, each sized to its traffic; every shard stays
    a small hash in Redis's compact encoding; a copy of the very first story still joins its cluster; a story's own id is found."""
    clock = Clock()
    store = runtime.state.neardup(SIG_VERSION)
    index = NearDupIndex(store, clock=clock)
    rng = random.Random(5)
    first = story(rng, 0)
    assert index.assign("first", first).cluster_id == "first"
    for n in range(1, 2500):
        clock.now += 2.0
        index.assign(f"s{n}", story(rng, n))
    epochs = store.index.live(clock.now, index.ttl)
    assert len(epochs) >= 3, epochs
    assert epochs[0].shards > FIRST_SHARDS  # the busy traffic widened the later epochs
    layout = store.index.layout()
    assert layout["not_compact"] == 0 and layout["largest"] < 128, layout
    assert layout["largest"] <= 3 * PER_SHARD
    assert 0 < layout["ttl_min"] <= layout["ttl_max"] <= index.ttl
    copy = index.assign("copy", "Reprinted with permission. " + first.replace("story 0.", "a late change."))
    assert copy.cluster_id == "first" and copy.duplicate_of == "first"
    assert index.differs("first", story(random.Random(99), 99))
    assert not index.differs("first", first)


def test_a_reregistered_story_keeps_its_place_and_its_cluster(runtime: Runtime) -> None:
    """Running an article again (a redelivery, a re-clean) does not make it a new document: it
    stays its cluster's root, and a copy registered before its re-run still points at it."""
    clock = Clock()
    index = NearDupIndex(runtime.state.neardup(SIG_VERSION), clock=clock)
    rng = random.Random(8)
    text = story(rng, 1)
    index.assign("root", text)
    index.assign("copy", "From the wire. " + text)
    again = index.assign("root", text + " Updated at noon.")
    assert again.cluster_id == "root" and again.duplicate_of is None
    assert index.assign("copy", "From the wire. " + text).cluster_id == "root"


def test_epochs_die_a_ttl_after_their_last_write(runtime: Runtime) -> None:
    """An index untouched for longer than its TTL has no live epoch: old stories are no longer
    anyone's cluster (their keys expire in Redis by themselves)."""
    clock = Clock()
    store = runtime.state.neardup(SIG_VERSION)
    index = NearDupIndex(store, ttl_days=1.0, clock=clock)
    rng = random.Random(9)
    text = story(rng, 1)
    index.assign("old", text)
    assert store.index.live(clock.now, index.ttl)
    clock.now += 2 * 86400
    assert store.index.live(clock.now, index.ttl) == []
    assert index.assign("new", text).cluster_id == "new"
