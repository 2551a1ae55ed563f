"""Item-to-searchable latency under load: from a feed entry seen to its article searchable.

    .venv/bin/python bench/item_latency.py [--articles 1000] [--sites 10] [--linger SECONDS]
        [--markdown docs/figures/item-latency.md]

Serves synthetic sites on 127.0.0.1 and runs the real `newsflow run --once` (embedded Redis,
the default index, real workers) on all of them at once: the run is the load. The workers record
a latency in the `newsflow_item_to_searchable_seconds` histogram for each index batch, that of
the article whose trigger ran it (a waiting batch's oldest) (prometheus_client
multiprocess files under the data directory); this reads the files of every worker of the
run and prints p50 and p95 (interpolated within the histogram's buckets), with the article
count and the run's wall time; `--markdown` also writes them as the table the documentation
includes, with the run's provenance.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import Provenance, markdown_table, write_fragment  # noqa: E402 - after the path is set
from tests.faults import harness  # noqa: E402

METRIC = "newsflow_item_to_searchable_seconds"


def histogram(metrics_dir: Path) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of the histogram, summed over every worker's files."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    totals: dict[float, float] = {}
    for worker in sorted(p for p in metrics_dir.glob("*") if p.is_dir()):
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(worker))
        for family in registry.collect():
            if family.name != METRIC:
                continue
            for sample in family.samples:
                if sample.name == f"{METRIC}_bucket":
                    bound = float(sample.labels["le"])
                    totals[bound] = totals.get(bound, 0.0) + sample.value
    return sorted(totals.items())


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The q-quantile, linear within the bucket that holds it (the last finite bound caps it)."""
    if not buckets or buckets[-1][1] == 0:
        return None
    target = q * buckets[-1][1]
    low_bound, low_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= target:
            if bound == float("inf"):
                return low_bound
            share = (target - low_count) / (count - low_count) if count > low_count else 1.0
            return low_bound + share * (bound - low_bound)
        low_bound, low_count = bound, count
    return low_bound


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument(
        "--linger", type=float, metavar="SECONDS", help="NEWSFLOW_INDEX_LINGER for the run (default: the setting's)"
    )
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the figures as a Markdown table here")
    args = parser.parse_args()
    provenance = Provenance()
    with tempfile.TemporaryDirectory(prefix="newsflow-latency-") as tmp:
        work = Path(tmp)
        metrics = work / "metrics"
        env = harness.base_env(work / "data", NEWSFLOW_METRICS_DIR=str(metrics))
        if args.linger is not None:
            env["NEWSFLOW_INDEX_LINGER"] = str(args.linger)
        with harness.serve(harness.make_sites(args.sites, args.articles)) as sites:
            outcome = harness.run_with_faults(sites, work, env, None, timeout=1800)
        if outcome.returncode:
            print(outcome.stderr[-2000:], file=sys.stderr)
            return outcome.returncode
        buckets = histogram(metrics)
    count = int(buckets[-1][1]) if buckets else 0
    p50, p95 = quantile(buckets, 0.5), quantile(buckets, 0.95)
    print(
        f"{args.articles} articles on {args.sites} sites, all fed at once; run took {outcome.seconds:.1f} s; "
        f"{count} latencies recorded"
    )
    print(f"item to searchable: p50 {p50:.1f} s, p95 {p95:.1f} s" if p50 is not None else "no latency recorded")
    if args.markdown:
        table = markdown_table(
            ["articles", "sites", "run, s", "latencies recorded", "p50, s", "p95, s"],
            [[f"{args.articles:,}", args.sites, f"{outcome.seconds:.1f}", f"{count:,}",
              f"{p50:.1f}" if p50 is not None else "-", f"{p95:.1f}" if p95 is not None else "-"]],
        )  # fmt: skip
        notes = "Every site's feed polled at once by one `run --once`: each article queues behind the whole batch."
        write_fragment(args.markdown, provenance, [table], notes=notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
