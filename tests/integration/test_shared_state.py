"""Shared state in real Redis: site boilerplate statistics and the near-duplicate index."""

from __future__ import annotations

import pytest

from pipeline.boilerplate import BoilerplateStats
from pipeline.dedup import NearDupIndex
from workers.runtime import Runtime

pytestmark = pytest.mark.integration

STORY = (
    "Heavy rain overnight pushed the river above its banks in three districts. Emergency crews moved more than "
    "four hundred residents to schools on higher ground, and the regional road north of the bridge was closed. "
    "The weather office expects the water to fall slowly from Thursday, but warned of landslides on the hill roads."
)


def test_a_block_becomes_boilerplate_on_the_kth_distinct_page(runtime: Runtime) -> None:
    """Counts are per distinct page: the same page seen twice counts once; K pages cross."""
    stats = BoilerplateStats(runtime.redis, min_pages=3)
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
    stats = BoilerplateStats(runtime.redis, min_pages=2, window_days=1, max_blocks=50)
    for i in range(200):
        stats.observe("big", f"p{i}", [f"unique-{i}-{j}" for j in range(3)], now=1000 + i)
    assert runtime.redis.zcard("nf:bp:big:lru") <= 50
    assert runtime.redis.hlen("nf:bp:big:counts") <= 50
    stats.observe("old", "p1", ["x"], now=0)
    stats.observe("old", "p2", ["x"], now=10)
    assert stats.count("old", "x") == 2
    stats.observe("old", "p3", ["y"], now=10 + 2 * 86400)  # two days later
    assert stats.count("old", "x") == 0


def test_near_duplicates_share_the_first_articles_cluster(runtime: Runtime) -> None:
    """A republished copy joins the original's cluster; an unrelated story starts its own."""
    index = NearDupIndex(runtime.redis)
    first = index.assign("orig", STORY)
    assert first.cluster_id == "orig" and first.duplicate_of is None
    copy = index.assign("copy", "Republished from the Valley Times. " + STORY)
    assert copy.cluster_id == "orig" and copy.duplicate_of == "orig"
    other = index.assign("other", "The council approved a new budget for school meals, after a long debate on costs.")
    assert other.cluster_id == "other" and other.duplicate_of is None
    # Re-running the original (a redelivered task) keeps it the cluster's root.
    assert index.assign("orig", STORY).cluster_id == "orig"
