"""The long fuzz run: many cases per entry point, counted, with every failure kept to replay.

    .venv/bin/python bench/fuzz.py [--cases 100000] [--only page feed url] [--jobs 2] [--seed 0]

The entry points and their properties are those of tests/fuzz (the same strategies and
checks, `tests/fuzz/strategies.py`): `clean_page` on broken real pages, `parse_feed` on
broken feeds, `canonicalize_url` on broken URLs. Each call must return a result that keeps
its promises or raise one of newsflow's own errors with a one-line reason, within the page
deadline; warnings count as failures, as in the test suite. Cases run in chunks of fresh
Hypothesis runs (seed, chunk) so memory stays flat; `--jobs` spreads the chunks over
processes. Prints, per entry point: cases, failures, what the calls returned, the slowest
case; each failure's input is written under `--out` to replay.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.fuzz import strategies as fuzz  # noqa: E402 - after the path is set

CHUNK = 2_000  # cases per Hypothesis run
SAMPLE = 25  # one case in this many is called again to see what it returned


@dataclass
class Tally:
    cases: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    slowest: float = 0.0
    saved: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.cases += other.cases
        self.failures.update(other.failures)
        self.outcomes.update(other.outcomes)
        self.slowest = max(self.slowest, other.slowest)
        self.saved += other.saved


def _page(case: fuzz.PageCase, deadline: float) -> Any:
    fuzz.check_page(case, deadline)
    return case.body


def _feed(case: fuzz.FeedCase, deadline: float) -> Any:
    fuzz.check_feed(case, deadline)
    return case.body


def _url(case: tuple[str, str | None], deadline: float) -> Any:
    fuzz.check_url(*case, seconds=deadline)
    return case


ENTRY_POINTS: dict[str, tuple[Callable[[], st.SearchStrategy[Any]], Callable[[Any, float], Any]]] = {
    "page": (fuzz.pages, _page),
    "feed": (fuzz.feeds, _feed),
    "url": (lambda: st.tuples(fuzz.any_urls(), st.one_of(st.none(), fuzz.any_urls())), _url),
}


def _outcome(name: str, case: Any) -> str:
    """What the call returned, for the tally (the check already passed: calling again is cheap enough)."""
    try:
        if name == "page":
            fuzz.clean_page(case.body, case.seed.url, charset=case.charset)
        elif name == "feed":
            fuzz.parse_feed(case.body, case.url, case.charset)
        else:
            fuzz.canonicalize_url(*case)
    except fuzz.NewsflowError as exc:
        return type(exc).__name__
    return "result"


def run_chunk(name: str, base_seed: int, chunk: int, cases: int, deadline: float, out: str) -> Tally:
    """One Hypothesis run of `cases` cases of one entry point; failures are counted, not raised."""
    make, check = ENTRY_POINTS[name]
    tally = Tally()
    warnings.simplefilter("error")  # as in the test suite

    @seed(base_seed * 1_000_003 + chunk)
    @settings(
        max_examples=cases,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(make())
    def property_(case: Any) -> None:
        tally.cases += 1
        start = time.monotonic()
        try:
            check(case, deadline)
        except fuzz.Broken as exc:
            reason = str(exc).split("\n")[0][:160]
            tally.failures[reason] += 1
            if len(tally.saved) < 20:
                path = Path(out) / f"{name}-{base_seed}-{chunk}-{tally.cases}.pickle"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(pickle.dumps(case))
                tally.saved.append(str(path))
            return
        finally:
            tally.slowest = max(tally.slowest, time.monotonic() - start)
        if tally.cases % SAMPLE == 0:  # a sample of what the calls return: errors are not all there is
            tally.outcomes[_outcome(name, case)] += SAMPLE

    property_()
    failures = sum(tally.failures.values())
    print(f"  {name} chunk {chunk}: {tally.cases:,} cases, {failures} failures", file=sys.stderr, flush=True)
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000, help="cases per entry point (default 100,000)")
    parser.add_argument("--only", nargs="+", choices=sorted(ENTRY_POINTS), default=list(ENTRY_POINTS))
    parser.add_argument("--jobs", type=int, default=1, help="processes (default 1: the machine is shared)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deadline", type=float, default=fuzz.PAGE_DEADLINE, help="seconds a call may take")
    parser.add_argument("--out", default="/tmp/newsflow-fuzz", help="where failing inputs are written")
    args = parser.parse_args()

    runs = f"seed {args.seed}, {args.jobs} job(s), deadline {args.deadline:g} s"
    print(f"fuzz: {args.cases:,} cases per entry point, {runs}")
    failed = 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        # Every chunk of every entry point queued at once: no process idles while another finishes.
        futures = {
            name: [
                pool.submit(run_chunk, name, args.seed, i, min(CHUNK, args.cases - done), args.deadline, args.out)
                for i, done in enumerate(range(0, args.cases, CHUNK))
            ]
            for name in args.only
        }
        start = time.monotonic()
        for name, chunks in futures.items():
            total = Tally()
            for future in chunks:
                total.add(future.result())
            outcomes = ", ".join(f"{k} {v:,}" for k, v in total.outcomes.most_common())
            print(
                f"{name:5}  cases {total.cases:>8,}  failures {sum(total.failures.values()):>6,}  "
                f"slowest {total.slowest:6.2f} s  (sampled outcomes: {outcomes})  [{time.monotonic() - start:.0f} s]",
                flush=True,
            )
            for reason, count in total.failures.most_common():
                print(f"    {count:>6,}  {reason}")
            for path in total.saved[:5]:
                print(f"    replay: {path}")
            failed += sum(total.failures.values())
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
