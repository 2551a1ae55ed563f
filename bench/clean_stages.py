"""Where `clean_page`'s time goes, stage by stage, beside `trafilatura.extract` on the same pages.

    .venv/bin/python bench/clean_stages.py [--rounds 2] [--markdown docs/figures/clean-stages.md]

The pages are ScrapingHub's 181 and wcxb-dev's 787 article pages (`../shared/benchmarks/`,
the pages `bench/quality.py` times). Each stage's function is wrapped in a timer for the
newsflow pass only; a stage's time is its own, without the timed stages it calls (the page-kind
model's scoring counts as "models", not as "page kind"). What no timer covers (the rules after
the classifier, repeats, the bounds, the glue) is "the rest". One core, CPU time, the best of
`--rounds` passes; the figures carry the timers' own overhead (a few per cent).

The question it answers: how much of the page's time is newsflow's own, and how much is
trafilatura's, called as a feature and to check whether the classifier gave up. `clean_page` at
twice `trafilatura.extract`'s pages/s needs the whole page in half of trafilatura's time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402 - after the path is set
from lxml import html as lxml_html  # noqa: E402

from bench.quality import DEFAULT_DEVSET, DEFAULT_WCXB, load_devset  # noqa: E402
from bench.report import Provenance, markdown_table, write_fragment  # noqa: E402
from pipeline.cleaning import model, page  # noqa: E402
from pipeline.errors import Dropped, PermanentError  # noqa: E402

TRAFILATURA = ("trafilatura fast path", "trafilatura full cascade")
# Module, attribute, stage: the functions `clean_page` calls, looked up at call time.
STAGES: list[tuple[Any, str, str]] = [
    (page, "binary_kind", "decode"),
    (page, "decode_html", "decode"),
    (lxml_html, "document_fromstring", "parse"),
    (page, "read_metadata", "metadata"),
    (page, "search_teasers", "teaser search and cut"),
    (page, "remove_teasers", "teaser search and cut"),
    (page, "take_captions", "captions"),
    (page, "cut_blocks", "blocks"),
    (page, "block_features", "block features"),
    (model.BlockModel, "scores", "models"),
    (page, "not_article_score", "page kind"),
    (page, "fallback_paragraphs", "fallback"),
]


class Stopwatch:
    """Each stage's own time: a timed call inside another is taken off the outer one."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self._inner: list[float] = []

    def wrap(self, fn: Callable[..., Any], stage: Callable[..., str]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._inner.append(0.0)
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.process_time() - started
                self.seconds[stage(*args, **kwargs)] += spent - self._inner.pop()
                if self._inner:
                    self._inner[-1] += spent

        return timed


@contextlib.contextmanager
def timers(watch: Stopwatch) -> Iterator[None]:
    """The stage functions wrapped while the block runs, put back after."""
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in STAGES]
    saved.append((page, "_trafilatura", page._trafilatura))
    try:
        for owner, name, stage in STAGES:
            setattr(owner, name, watch.wrap(getattr(owner, name), lambda *a, _s=stage, **k: _s))
        page._trafilatura = watch.wrap(  # type: ignore[assignment]
            page._trafilatura, lambda *a, fast, **k: TRAFILATURA[0] if fast else TRAFILATURA[1]
        )
        yield
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)


def load_pages(folder: Path, articles_only: bool) -> list[tuple[bytes, str]]:
    pages, truth = load_devset(folder)
    return [
        (p.html, p.url) for p in pages if not articles_only or truth[p.key].get("page_type", "article") == "article"
    ]


def clean_all(pages: list[tuple[bytes, str]]) -> None:
    for raw, url in pages:
        with contextlib.suppress(Dropped, PermanentError):
            page.clean_page(raw, url)


def measure(pages: list[tuple[bytes, str]], rounds: int) -> dict[str, Any]:
    """ms per page of each stage (the best round's), of the whole `clean_page` and of `trafilatura.extract`."""
    clean_all(pages[:10])  # warm-up: models loaded, caches filled
    best: dict[str, Any] | None = None
    for _ in range(rounds):
        watch = Stopwatch()
        with timers(watch):
            started = time.process_time()
            clean_all(pages)
            total = time.process_time() - started
        if best is None or total < best["total"]:
            best = {"total": total, "stages": dict(watch.seconds)}
    assert best is not None
    theirs = []
    for _ in range(rounds):
        started = time.process_time()
        for raw, url in pages:
            trafilatura.extract(raw, url=url, include_comments=False)
        theirs.append(time.process_time() - started)
    n = len(pages)
    stages = {k: v / n * 1000 for k, v in best["stages"].items()}
    stages["the rest"] = best["total"] / n * 1000 - sum(stages.values())
    return {"pages": n, "clean_page": best["total"] / n * 1000, "trafilatura": min(theirs) / n * 1000, "stages": stages}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--markdown", type=Path, help="also write the table as a Markdown fragment here")
    args = ap.parse_args(argv)
    provenance = Provenance()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sets = {
        "ScrapingHub": measure(load_pages(DEFAULT_DEVSET, False), args.rounds),
        "wcxb-dev articles": measure(load_pages(DEFAULT_WCXB, True), args.rounds),
    }
    first = sets["ScrapingHub"]["stages"]
    order = sorted({s for r in sets.values() for s in r["stages"]}, key=lambda s: -first.get(s, 0))
    rows = [[s, *(f"{r['stages'].get(s, 0.0):.2f}" for r in sets.values())] for s in order]
    for label, key in (("`clean_page`, whole", "clean_page"), ("`trafilatura.extract`", "trafilatura")):
        rows.append([label, *(f"{r[key]:.2f}" for r in sets.values())])
    own = {name: r["clean_page"] - sum(r["stages"].get(s, 0.0) for s in TRAFILATURA) for name, r in sets.items()}
    rows.append(["`clean_page` without its trafilatura calls", *(f"{v:.2f}" for v in own.values())])
    rows.append(["2× `trafilatura.extract` needs at most", *(f"{r['trafilatura'] / 2:.2f}" for r in sets.values())])
    header = ["stage (ms per page, one core)", *(f"{k} ({r['pages']} pages)" for k, r in sets.items())]
    table = markdown_table(header, rows)
    print(table)
    for name, r in sets.items():
        print(
            f"{name}: clean_page {1000 / r['clean_page']:.1f} pages/s, trafilatura.extract "
            f"{1000 / r['trafilatura']:.1f} pages/s ({r['trafilatura'] / r['clean_page']:.2f}x); "
            f"without its trafilatura calls {r['trafilatura'] / own[name]:.2f}x"
        )
    if args.markdown:
        note = (
            "Each stage's own CPU time per page in `clean_page` (a timed call inside another is taken off "
            "the outer one), the best of the rounds, on one core; `bench/clean_stages.py`."
        )
        write_fragment(args.markdown, provenance, [table], notes=note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
