"""Boilerplate learned across the pages of a site, shared by every worker, order-independent."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.feeds import FeedConfig
from pipeline.stages import fetch_work
from tests.support import docs_under, ingest
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration

SHARED = (
    "The Valley Ledger is kept going by its readers and by the county arts trust; our small newsroom "
    "works from the old mill on Station Road and answers every letter."
)
STORIES = {
    "council-votes-to-keep-the-night-bus-2025": [
        "The council voted on Tuesday to keep the night bus running through the winter, after a petition signed by nine hundred people.",
        "The route links the hospital, the station and the three estates north of the river, and costs about forty thousand a year.",
    ],
    "bakery-on-mill-lane-wins-regional-prize-2025": [
        "A family bakery on Mill Lane has won the regional prize for its rye loaf, beating forty entries from across the county.",
        "The owners, who opened the shop eleven years ago, said they would spend the prize money on a second oven.",
    ],
    "school-choir-to-sing-at-the-cathedral-2025": [
        "The primary school choir has been invited to sing at the cathedral's spring concert, a first for a school from the valley.",
        "Forty pupils rehearse twice a week, and parents have raised the money for a coach to take them to the city.",
    ],
    "footpath-along-the-canal-reopens-2025": [
        "The footpath along the canal reopened on Friday after repairs to a collapsed section near the lock keeper's cottage.",
        "Walkers and anglers had been diverted through the industrial estate for most of the autumn.",
    ],
}


def write_site(root: Path) -> None:
    for slug, paras in STORIES.items():
        body = "".join(f"<p>{p}</p>" for p in paras)
        # The shared paragraph sits inside the article, where structure alone cannot tell.
        html = (
            f'<html lang="en"><head><meta charset="utf-8"><title>{slug} | Valley Ledger</title></head>'
            f"<body><article><h1>{slug.replace('-', ' ')}</h1>{body}<p>{SHARED}</p></article></body></html>"
        )
        (root / f"{slug}.html").write_text(html, encoding="utf-8")


def test_block_on_k_pages_leaves_every_page_even_those_cleaned_before(
    runtime: Runtime, workers: WorkerGroup, tmp_path: Path
) -> None:
    """Pages cleaned before the block crossed the threshold are cleaned again from raw pages."""
    write_site(tmp_path)
    with SiteServer(tmp_path) as server:
        slugs = list(STORIES)
        # One page at a time, so the first pages are indexed before the block is known.
        for slug in slugs:
            submit(runtime.state, [fetch_work(f"{server.base}/{slug}.html", site="ledger")])
            assert wait_until_idle(runtime, workers, 60)
        fetches = len([p for p in server.requests if p.endswith(".html")])
    docs = docs_under(runtime, server.base)
    assert len(docs) == len(STORIES)
    for doc in docs:
        assert "old mill on Station Road" not in doc.body, doc.url
        assert doc.extraction.removed.get("boilerplate") == 1
    # Re-cleaning used the stored raw pages: nothing was fetched twice.
    assert fetches == len(STORIES)
    assert runtime.state.stats().get("recleaned", 0) >= runtime.settings.boilerplate_min_pages - 1 >= 1


def test_a_page_that_is_mostly_known_blocks_is_kept_whole(
    runtime: Runtime, workers: WorkerGroup, tmp_path: Path
) -> None:
    """The same article under K URLs is a copy, not boilerplate: its body survives."""
    paras = next(iter(STORIES.values()))
    html = (
        '<html lang="en"><head><meta charset="utf-8"><title>Night bus | Valley Ledger</title></head>'
        f"<body><article>{''.join(f'<p>{p}</p>' for p in paras)}</article></body></html>"
    )
    for i in range(4):
        (tmp_path / f"copy-{i}-of-the-night-bus-story.html").write_text(html, encoding="utf-8")
    with SiteServer(tmp_path) as server:
        feed = "".join(
            f"<item><link>{server.base}/copy-{i}-of-the-night-bus-story.html</link></item>" for i in range(4)
        )
        (tmp_path / "feed.xml").write_text(f'<rss version="2.0"><channel><title>t</title>{feed}</channel></rss>')
        ingest(runtime, workers, [FeedConfig(url=f"{server.base}/feed.xml", site="ledger-copies")])
        docs = docs_under(runtime, server.base)
    assert len(docs) == 4
    for doc in docs:
        assert paras[0] in doc.body and paras[1] in doc.body
    # They are one story: one cluster.
    assert len({d.cluster_id for d in docs}) == 1
