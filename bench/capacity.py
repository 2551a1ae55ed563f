"""The capacity model: Redis memory, Elasticsearch shards and disk, and workers per stage, for
a number of feeds and of articles a day, from figures the other bench scripts measure.

    .venv/bin/python bench/capacity.py [--case 500:10000 --case 50000:2000000 ...]
        [--markdown docs/figures/capacity.md]

Every input is a flag whose help names the script that measures it; the defaults are the
figures docs/capacity.md quotes, with the date and machine of their runs. Measure your own
(on your hardware, against your cluster) and pass them to size your deployment. Nothing here
is measured: the script multiplies, and says so in its fragment.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import Provenance, markdown_table, write_fragment  # noqa: E402 - after the path is set

GB = 1e9
DAYS_A_MONTH = 30.44


@dataclass(frozen=True)
class Inputs:
    """The measured figures (and the few assumptions) the model multiplies."""

    neardup_bytes: float = 471  # near-dup index + records, per article in the window: redis_memory.py
    seen_bytes: float = 13  # per URL in the seen window: redis_memory.py
    site_bytes: float = 114_000  # boilerplate statistics + page records, bounded per site: redis_memory.py
    feed_bytes: float = 3_000  # a feed's GUID map, bounded: redis_memory.py
    neardup_days: float = 30  # NEWSFLOW_NEARDUP_WINDOW_DAYS
    seen_days: float = 180  # NEWSFLOW_SEEN_RETENTION_DAYS
    doc_bytes: float = 5_368  # primary store per article: es_bulk.py (on noida-db)
    replicas: int = 1
    retention_months: int = 12  # what `newsflow prune` keeps
    shard_gb: float = 40  # target primary shard size (Elastic: 10-50 GB)
    shard_docs: float = 200e6  # most documents a shard should hold (Elastic's guide)
    clean_per_core: float = 37.9  # pages/s of clean_page on one core: quality.py
    pipeline_per_core: float = 8.0  # articles/s of a whole import, per core of 2 shared ones: import_warc.py
    stage_ms: float = 4.27  # Redis work of the process stage per article, ms: redis_memory.py
    index_per_thread: float = 920  # articles/s of one bulk client: es_bulk.py
    fetch_seconds: float = 1.0  # one page fetched from the internet (assumed: not measurable here)
    poll_seconds: float = 1.0  # one feed polled from the internet (assumed)
    poll_interval: float = 900  # NEWSFLOW_FEED_INTERVAL: a feed's starting poll interval
    polls_per_process: float = 54.0  # polls/s of one process of 32 threads (politeness-bound): feeds_poll.py
    peak: float = 3.0  # the busiest hour's rate over the day's mean (assumed)


@dataclass(frozen=True)
class Sized:
    feeds: int
    per_day: int
    redis_neardup: float  # bytes
    redis_seen: float
    redis_sites: float
    redis_feeds: float
    es_docs_month: float
    es_primary_month: float  # bytes
    es_shards_month: int  # primaries of one monthly index
    es_shards_total: int  # every copy over the retention
    es_disk_total: float  # bytes, replicas included
    process_cores: float  # cleaning and its Redis work alone
    pipeline_cores: float  # every stage of the pipeline on the same cores, as an import runs them
    index_threads: float
    fetch_concurrency: float
    poll_rate: float  # polls a second
    poll_concurrency: float
    poll_processes: float

    @property
    def redis_total(self) -> float:
        return self.redis_neardup + self.redis_seen + self.redis_sites + self.redis_feeds


def size(feeds: int, per_day: int, i: Inputs) -> Sized:
    """The model for `feeds` feeds (each its own site, at worst) and `per_day` articles a day."""
    peak_rate = per_day / 86400 * i.peak  # articles a second, in the busiest hour
    docs_month = per_day * DAYS_A_MONTH
    primary_month = docs_month * i.doc_bytes
    shards = max(1, math.ceil(primary_month / (i.shard_gb * GB)), math.ceil(docs_month / i.shard_docs))
    return Sized(
        feeds=feeds,
        per_day=per_day,
        redis_neardup=per_day * i.neardup_days * i.neardup_bytes,
        redis_seen=per_day * i.seen_days * i.seen_bytes,
        redis_sites=feeds * i.site_bytes,
        redis_feeds=feeds * i.feed_bytes,
        es_docs_month=docs_month,
        es_primary_month=primary_month,
        es_shards_month=shards,
        es_shards_total=shards * (1 + i.replicas) * (i.retention_months + 1),  # the month being written too
        es_disk_total=primary_month * (1 + i.replicas) * (i.retention_months + 1),
        process_cores=peak_rate * (1 / i.clean_per_core + i.stage_ms / 1000),
        pipeline_cores=peak_rate / i.pipeline_per_core,
        index_threads=peak_rate / i.index_per_thread,
        fetch_concurrency=peak_rate * i.fetch_seconds,
        # Feeds are polled on their schedule, whatever the news does: no peak factor.
        poll_rate=feeds / i.poll_interval,
        poll_concurrency=feeds / i.poll_interval * i.poll_seconds,
        poll_processes=feeds / i.poll_interval / i.polls_per_process,
    )


def _gb(value: float) -> str:
    return f"{value / GB:,.1f} GB" if value >= GB / 10 else f"{value / 1e6:,.0f} MB"


def tables(cases: list[Sized], i: Inputs) -> list[str]:
    head = ["", *(f"{c.feeds:,} feeds, {c.per_day:,} a day" for c in cases)]
    redis = markdown_table(
        ["Redis", *head[1:]],
        [
            [f"near-duplicate window ({i.neardup_days:g} days)", *(_gb(c.redis_neardup) for c in cases)],
            [f"seen URLs ({i.seen_days:g} days)", *(_gb(c.redis_seen) for c in cases)],
            ["boilerplate statistics and page records (per site)", *(_gb(c.redis_sites) for c in cases)],
            ["feed GUID maps (per feed)", *(_gb(c.redis_feeds) for c in cases)],
            ["**total**", *(f"**{_gb(c.redis_total)}**" for c in cases)],
        ],
    )
    es = markdown_table(
        ["Elasticsearch", *head[1:]],
        [
            ["articles a month", *(f"{c.es_docs_month / 1e6:,.1f} M" for c in cases)],
            ["a month's primary store", *(_gb(c.es_primary_month) for c in cases)],
            ["primary shards per monthly index", *(str(c.es_shards_month) for c in cases)],
            [f"shards kept ({i.retention_months} months + this one, {i.replicas} replica)",
             *(f"{c.es_shards_total:,}" for c in cases)],
            ["disk, replicas included", *(_gb(c.es_disk_total) for c in cases)],
        ],
    )  # fmt: skip
    workers = markdown_table(
        [f"workers, at {i.peak:g}x the day's mean rate", *head[1:]],
        [
            ["`process`: cores, cleaning and its Redis work", *(f"{c.process_cores:,.2f}" for c in cases)],
            ["all stages on shared cores, as an import runs", *(f"{c.pipeline_cores:,.1f}" for c in cases)],
            ["`index`: bulk client threads", *(f"{c.index_threads:,.2f}" for c in cases)],
            ["`fetch`: requests in flight", *(f"{c.fetch_concurrency:,.0f}" for c in cases)],
            [
                f"`feeds`: polls a second (each feed every {i.poll_interval / 60:g} min)",
                *(f"{c.poll_rate:,.1f}" for c in cases),
            ],
            ["`feeds`: polls in flight", *(f"{c.poll_concurrency:,.1f}" for c in cases)],
            ["`feeds`: processes of 32 threads", *(f"{c.poll_processes:,.2f}" for c in cases)],
        ],
    )
    return [redis, es, workers]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--case", action="append", metavar="FEEDS:PER_DAY", help="feeds and articles a day (repeatable)"
    )
    for f in fields(Inputs):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the tables here")
    args = parser.parse_args(argv)
    provenance = Provenance(["bench/capacity.py", *(argv if argv is not None else sys.argv[1:])])
    inputs = Inputs(**{f.name: getattr(args, f.name) for f in fields(Inputs)})
    cases = []
    for case in args.case or ["500:10000", "5000:100000", "50000:2000000"]:
        try:
            feeds, per_day = (int(part) for part in case.split(":"))
        except ValueError:
            parser.error(f"--case {case!r} is not FEEDS:PER_DAY, e.g. 5000:100000")
        cases.append(size(feeds, per_day, inputs))
    out = tables(cases, inputs)
    print("\n".join(out))
    if args.markdown:
        notes = "Computed by the model from the inputs above, not measured: each input's source is on this page."
        write_fragment(args.markdown, provenance, out, notes=notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
