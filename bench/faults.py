"""Fault soak: `newsflow run --once` on synthetic sites, fault-free and under each fault.

    .venv/bin/python bench/faults.py [--articles 2000] [--sites 20] [--only NAME ...] [--markdown FILE]

Serves `--articles` distinct articles on `--sites` loopback sites, then runs the real
command once without faults and once per fault, each against a fresh redis-server of its
own (append-only, fsync every second) and a fresh data directory (the embedded default index,
Tantivy; the search backend faults start noida-db, an Elasticsearch stand-in). Prints, per
run: exit code, articles lost and duplicated, messages left unacknowledged, work left open,
wall time, and articles/s against the fault-free run of the same invocation. `--markdown` also writes them as
the table the documentation includes (docs/figures/faults.md), with the run's provenance.

"restarts" counts the worker processes `run` started again: the faults that kill workers
cause them; under any other fault a restart is a worker that crashed.

Faults: worker mains SIGKILLed every few hundred pages (I/O and cleaning, alternately),
every cleaning pool child SIGKILLed repeatedly, Redis SIGKILLed and restarted 5 s later
(twice), the search backend frozen 60 s, and the search backend stopped 20 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import stop_cleanly_on_sigterm  # noqa: E402
from bench.report import Provenance, markdown_table, write_fragment  # noqa: E402
from tests.faults import harness  # noqa: E402
from tests.search.noida import NoidaServer, free_port  # noqa: E402 - after the path is set

FAULTS = {  # each run as the documentation's table names it
    "none": "no fault (embedded Tantivy index)",
    "worker-mains": "worker mains SIGKILLed 6 times (I/O and cleaning, alternately)",
    "pool-children": "every cleaning pool child SIGKILLed, 6 times",
    "redis": "Redis SIGKILLed and restarted 5 s later, twice",
    "none-es": "no fault (Elasticsearch stand-in)",
    "search-frozen": "search backend frozen (SIGSTOP) 60 s",
    "search-stopped": "search backend stopped 20 s (SIGTERM, then started again)",
}


def restarts(outcome: harness.Outcome) -> int:
    """Worker processes `run` said it restarted (`workers.service.supervise`)."""
    lines = outcome.stderr.splitlines()
    return sum(1 for line in lines if line.startswith("newsflow: worker") and line.endswith("; restarted"))


def run_one(name: str, sites: list[harness.Site], articles: int) -> harness.Outcome:
    with tempfile.TemporaryDirectory(prefix=f"newsflow-faults-{name}-") as tmp:
        work = Path(tmp)
        redis = harness.RedisServer(work / "redis", free_port()).start()
        noida = None
        try:
            env = harness.base_env(work / "data", REDIS_URL=redis.url)
            step = max(50, articles // 8)
            fault: harness.Fault | None = None
            if name == "worker-mains":
                fault = harness.kill_worker_mains(times=6, every=step)
            elif name == "pool-children":
                fault = harness.kill_pool_children(times=6, every=step)
            elif name == "redis":

                def fault(proc, env, log):  # type: ignore[no-untyped-def]
                    harness.kill_redis(redis, at=articles // 4, down=5.0)(proc, env, log)
                    harness.kill_redis(redis, at=articles // 2, down=5.0)(proc, env, log)

            elif name in ("search-frozen", "search-stopped"):
                noida = NoidaServer(work / "noida").start()
                env.update(ELASTICSEARCH_URL=noida.url, NEWSFLOW_ELASTICSEARCH_INDEX="faults")
                live = noida
                if name == "search-frozen":
                    fault = harness.freeze(lambda: live.proc.pid if live.proc else 0, at=articles // 4, seconds=60)
                else:
                    fault = harness.stop_and_start(
                        lambda: live.stop(timeout=120), live.start, at=articles // 4, down=20
                    )
            elif name == "none-es":
                noida = NoidaServer(work / "noida").start()
                env.update(ELASTICSEARCH_URL=noida.url, NEWSFLOW_ELASTICSEARCH_INDEX="faults")
            return harness.run_with_faults(sites, work, env, fault, timeout=1800)
        finally:
            if noida is not None:
                noida.stop()
            redis.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--sites", type=int, default=20)
    names = list(FAULTS)
    parser.add_argument("--only", nargs="*", choices=names, help="runs to do (default: all)")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the runs as a Markdown table here")
    args = parser.parse_args()
    provenance = Provenance()
    rows: list[list[object]] = []
    chosen = args.only or names
    print(f"{args.articles} articles on {args.sites} sites; one fresh redis-server per run")
    print(
        f"{'run':<16}{'exit':>5}{'lost':>6}{'dup':>5}{'unacked':>9}{'open':>6}{'restarts':>9}{'seconds':>9}{'art/s':>8}"
        f"{'vs free':>9}"
    )
    baseline: dict[bool, float] = {}
    failed = False
    with harness.serve(harness.make_sites(args.sites, args.articles)) as sites:
        for name in chosen:
            outcome = run_one(name, sites, args.articles)
            rate = args.articles / outcome.seconds if outcome.seconds else 0.0
            es = name.startswith("search") or name == "none-es"
            if name in ("none", "none-es"):
                baseline[es] = rate
            ratio = f"{rate / baseline[es]:.2f}x" if baseline.get(es) else "-"
            restarted = restarts(outcome)
            print(
                f"{name:<16}{outcome.returncode:>5}{outcome.lost:>6}{outcome.duplicated:>5}"
                f"{outcome.unacked if outcome.unacked is not None else '-':>9}"
                f"{outcome.ledger_open if outcome.ledger_open is not None else '-':>6}{restarted:>9}"
                f"{outcome.seconds:>9.1f}{rate:>8.1f}{ratio:>9}",
                flush=True,
            )
            rows.append([FAULTS[name], outcome.returncode, outcome.lost, outcome.duplicated,
                         "-" if outcome.unacked is None else outcome.unacked,
                         "-" if outcome.ledger_open is None else outcome.ledger_open, restarted,
                         f"{outcome.seconds:.1f}", ratio])  # fmt: skip
            if outcome.returncode or outcome.lost or outcome.duplicated or outcome.unacked or outcome.ledger_open:
                failed = True
                print(f"  faults: {outcome.faults}\n  stderr tail: {outcome.stderr[-1500:]}", file=sys.stderr)
    if args.markdown:
        header = [f"run ({args.articles:,} articles, {args.sites} sites)", "exit", "lost", "duplicated", "unacked",
                  "open work", "workers restarted", "seconds", "vs fault-free"]  # fmt: skip
        notes = "Compare the ratios: each against the fault-free run of its backend in the same invocation."
        write_fragment(args.markdown, provenance, [markdown_table(header, rows)], notes=notes)
    return 1 if failed else 0


if __name__ == "__main__":
    stop_cleanly_on_sigterm()
    sys.exit(main())
