"""Redis bytes per article in the steady state, and the near-duplicate recall kept.

    .venv/bin/python bench/redis_memory.py [--articles 10000 100000] [--sites 100] [--per-day 100000]
        [--markdown docs/figures/redis-memory.md] [--cluster]

For each size: a fresh redis-server (append-only off: memory only), then synthetic articles
go through what the pipeline keeps in Redis per article (the seen URL and the feed's GUID
map, with the URL as GUID as many feeds do; the page record for
re-cleaning, the near-duplicate index, the site's boilerplate statistics, the documents
recently indexed). One article in fifty is a republished copy of an earlier one (a sentence
changed, a credit line added): recall is the share of copies put in their original's cluster.
Articles arrive on a simulated clock at `--per-day` (the near-duplicate index sizes itself to
the traffic it sees). Prints used_memory per article, where it goes by key family (sampled
with MEMORY USAGE), the near-duplicate index's layout, and the time per article; `--markdown`
also writes them as the tables the documentation includes, with the run's provenance.

`--cluster` keeps the state on a three-master Redis Cluster instead (the tests' own, started
here) and also prints each node's memory and the largest over the smallest.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import stop_cleanly_on_sigterm  # noqa: E402
from bench.report import Provenance, markdown_table, write_fragment  # noqa: E402
from pipeline.dedup import SIG_VERSION, NearDupIndex  # noqa: E402 - after the path is set
from pipeline.feeds import FeedConfig, FeedEntry, claim_entries  # noqa: E402
from pipeline.models import article_id  # noqa: E402
from pipeline.state import StateStore  # noqa: E402
from tests.faults import harness  # noqa: E402
from tests.search.noida import free_port  # noqa: E402

WORDS = [w for words in harness.WORDS.values() for w in words]


def body_of(rng: random.Random, n: int) -> str:
    return " ".join(" ".join(rng.choice(WORDS) for _ in range(40)) + f" {n}-{p}." for p in range(6))


def run(articles: int, sites: int, per_day: int, seed: int = 11, cluster: bool = False) -> dict[str, float]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="newsflow-memory-") as tmp:
        server: harness.RedisServer | harness.RedisClusterServers
        server = harness.RedisClusterServers(Path(tmp)) if cluster else harness.RedisServer(Path(tmp), free_port())
        server.start()
        state = StateStore.from_url(server.url, cluster=cluster)
        try:
            base_nodes = state.node_memory()
            base, _ = state.memory()
            clock = [1_800_000_000.0]
            store = state.neardup(SIG_VERSION)
            neardup = NearDupIndex(store, clock=lambda: clock[0])
            boilerplate = state.boilerplate(min_pages=3)
            feeds = [FeedConfig(url=f"https://site{k:03d}.example/feed.xml") for k in range(sites)]
            recent: dict[int, str] = {}  # the last bodies, for copies of recent stories
            copies = found = 0
            started = time.perf_counter()
            for n in range(articles):
                clock[0] += 86400 / per_day
                site = f"site{n % sites:03d}.example"
                url = f"https://{site}/news/{n}.html"
                page_id = article_id(url)
                if n > 100 and n % 50 == 0:
                    original = rng.randrange(n - 100, n)
                    body = recent[original].replace(f" {original}-2.", " a changed sentence.") + " By the wire desk."
                else:
                    original = -1
                    body = body_of(rng, n)
                recent[n] = body
                recent.pop(n - 200, None)
                feed = feeds[n % sites]
                _verdicts, work = claim_entries(
                    state, feed, [FeedEntry(url=url, guid=url, title="", published_at=None)]
                )
                for item in work:  # the fetch stage's hand-off ends the item
                    state.commit(done=item.id)
                record = {"url": url, "final_url": url, "ref": "ab" * 32, "fetched_at": "2026-11-30T00:00:00+00:00",
                          "charset": "utf-8", "feed": f"https://{site}/feed.xml", "site": site, "language": "en",
                          "published": None, "reason": "new"}  # fmt: skip
                state.pages.remember(page_id, json.dumps(record))
                fps = [f"{site}-rail-{k}" for k in range(5)] + [f"{n}-block-{k}" for k in range(25)]
                boilerplate.observe(site, page_id, fps, now=clock[0])
                verdict = neardup.assign(page_id, body)
                if original >= 0:
                    copies += 1
                    first = f"https://site{original % sites:03d}.example/news/{original}.html"
                    found += verdict.cluster_id == article_id(first)
            seconds = time.perf_counter() - started
            used_now, families = state.memory()
            used = used_now - base
            nodes = {node: used - base_nodes[node] for node, used in state.node_memory().items()}
            shares = {f: b / articles for f, b in families.items()}
            layout = store.index.layout()
            return {
                "articles": articles,
                "bytes_per_article": round(used / articles),
                "seconds": round(seconds, 1),
                "ms_per_article": round(1000 * seconds / articles, 2),
                "neardup_epochs": len(store.index.live(clock[0], neardup.ttl)),
                "neardup_shards": layout["shards"],
                "neardup_largest_shard": layout["largest"],
                "neardup_shards_not_compact": layout["not_compact"],
                "copies": copies,
                "near_duplicate_recall": round(found / max(1, copies), 4),
                **{f"bytes_per_article[{f}]": round(v) for f, v in sorted(shares.items(), key=lambda kv: -kv[1])},
                **(node_figures(nodes) if cluster else {}),
            }
        finally:
            state.close()
            server.stop()


def node_figures(nodes: dict[str, int]) -> dict[str, float]:
    """Each node's memory grown by the run, and the largest over the smallest."""
    out: dict[str, float] = {f"node_bytes[{i}]": b for i, b in enumerate(sorted(nodes.values()))}
    out["node_largest_over_smallest"] = round(max(nodes.values()) / max(1, min(nodes.values())), 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[10_000])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--per-day", type=int, default=100_000, help="simulated arrival rate (articles a day)")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the figures as Markdown tables here")
    parser.add_argument("--cluster", action="store_true", help="the state on a three-master Redis Cluster")
    args = parser.parse_args()
    provenance = Provenance()
    results = []
    for n in args.articles:
        results.append(run(n, args.sites, args.per_day, cluster=args.cluster))
        print(json.dumps(results[-1]), flush=True)
    if args.markdown:
        notes = f"{args.sites} sites, {args.per_day:,} articles a day (simulated)."
        write_fragment(args.markdown, provenance, fragment_tables(results), notes=notes)
    return 0


def fragment_tables(results: list[dict[str, object]]) -> list[str]:
    """The documentation's tables: one row per size, then bytes per article by key family."""
    sizes = markdown_table(
        ["articles", "bytes per article", "copies found (recall)", "ms per article"],
        [
            [
                f"{r['articles']:,}",
                f"{r['bytes_per_article']:,}",
                f"{r['near_duplicate_recall']} (of {r['copies']:,})",
                r["ms_per_article"],
            ]
            for r in results
        ],
    )
    families = sorted({k for r in results for k in r if k.startswith("bytes_per_article[")})
    by_family = markdown_table(
        ["key family, bytes per article", *(f"{r['articles']:,} articles" for r in results)],
        [
            [f"`{f.removeprefix('bytes_per_article[').removesuffix(']')}`", *(f"{r.get(f, 0):,}" for r in results)]
            for f in families
        ],
    )
    return [sizes, by_family]


if __name__ == "__main__":
    stop_cleanly_on_sigterm()
    sys.exit(main())
