"""Rebuild the page-kind model (`page_kind_model.npz`): is a page an article or not?

    python -m pipeline.cleaning.train_kind [--benchmarks ../shared/benchmarks] [--out PATH]

Learns from (never from trafilatura-eval, which stays out as the validation set):
- wcxb-dev, every page with its page type: 787 articles; forums, products, listings, services,
  collections and documentation pages, 687 ("WCXB by Murrough Foley, CC-BY-4.0");
- ScrapingHub's article-extraction benchmark (181 articles);
- newsflow's golden corpus (`tests/corpus/`, 72 articles of our own).

Each page is read as `clean_page` reads it (`page.read_page`; every list the teaser search finds
cut, as for the block classifier: `page.STORY_LISTS_IN_TRAINING`) and described by
`kind.page_features`. One LightGBM binary booster, one thread, fixed seed: the same data gives
the same trees. `fold_models` trains one model per fold of sites (`train.fold_of`, the folds
of the block classifier) for the bench's held-out figures. Needs `lightgbm` (the `train` extra).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cleaning.kind import KIND_MODEL_FILE, PAGE_FEATURES
from pipeline.cleaning.model import BlockModel, from_lightgbm
from pipeline.cleaning.train import CORPUS, DEFAULT_BENCHMARKS, FOLDS, fold_of, reading

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 8,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 1,
    "verbose": -1,
}
ROUNDS = 200


@dataclass
class KindPage:
    id: str
    set: str
    site: str
    url: str
    html: bytes
    page_type: str  # "article", or wcxb-dev's other types


@dataclass
class KindTable:
    x: np.ndarray
    y: np.ndarray  # 1: not an article
    fold: np.ndarray
    pages: list[KindPage]  # the pages of the rows, in order


def load_kind_pages(benchmarks: Path, corpus: Path = CORPUS) -> Iterator[KindPage]:
    for name in ("scrapinghub", "wcxb-dev"):
        folder = benchmarks / name
        truth = json.loads(gzip.decompress((folder / "ground-truth.json.gz").read_bytes()))
        for pid, rec in sorted(truth.items()):
            html = gzip.decompress((folder / "html" / f"{pid}.html.gz").read_bytes())
            url = rec.get("url") or f"https://{pid}.invalid/"
            yield KindPage(pid, name, rec.get("site") or pid, url, html, rec.get("page_type", "article"))
    for rec in json.loads((corpus / "manifest.json").read_text(encoding="utf-8")):
        yield KindPage(
            rec["path"], "corpus", "corpus:" + rec["site"], rec["url"], (corpus / rec["path"]).read_bytes(), "article"
        )


def build_kind_table(pages: list[KindPage]) -> KindTable:
    rows, ys, folds, kept = [], [], [], []
    for n, kp in enumerate(pages):
        read = reading(kp.html, kp.url)
        if read is None:
            continue
        rows.append(read.kind_row)
        ys.append(0 if kp.page_type == "article" else 1)
        folds.append(fold_of(kp.site))
        kept.append(kp)
        if n % 400 == 0:
            print(f"  read {n} of {len(pages)} pages", file=sys.stderr)
    return KindTable(np.array(rows), np.array(ys, dtype=np.int32), np.array(folds, dtype=np.int32), kept)


def fit_kind(table: KindTable, mask: np.ndarray, meta: dict[str, Any]) -> BlockModel:
    import lightgbm as lgb  # the `train` extra: not needed to run the model

    data = lgb.Dataset(table.x[mask], table.y[mask], feature_name=PAGE_FEATURES, free_raw_data=True)
    booster = lgb.train(PARAMS, data, num_boost_round=ROUNDS)
    return from_lightgbm(booster.dump_model(), PAGE_FEATURES, meta)


def kind_fold_models(table: KindTable) -> dict[int, BlockModel]:
    """One model per fold, each trained without that fold's sites."""
    return {k: fit_kind(table, table.fold != k, {"fold": k, "folds": FOLDS}) for k in range(FOLDS)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmarks", type=Path, default=DEFAULT_BENCHMARKS)
    ap.add_argument("--out", type=Path, default=KIND_MODEL_FILE)
    args = ap.parse_args(argv)
    pages = list(load_kind_pages(args.benchmarks))
    table = build_kind_table(pages)
    print(f"{len(table.y)} pages: {int(table.y.sum())} not articles", file=sys.stderr)
    meta = {
        "trained_on": sorted({p.set for p in table.pages}),
        "pages": len(table.y),
        "not_articles": int(table.y.sum()),
        "params": PARAMS,
        "rounds": ROUNDS,
    }
    model = fit_kind(table, np.ones(len(table.y), dtype=bool), meta)
    model.save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB, {len(model.roots)} trees)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
