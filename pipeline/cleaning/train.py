"""Rebuild the block classifier from named data.

    python -m pipeline.cleaning.train [--benchmarks ../shared/benchmarks] [--out PATH]
                                      [--folds-only] [--report report.json]

Learns from (never from trafilatura-eval, which stays out as the validation set):
- ScrapingHub's article-extraction benchmark pages (`scrapinghub/`, 181 pages);
- WCXB's development split, article pages (`wcxb-dev/`, "WCXB by Murrough Foley, CC-BY-4.0");
- newsflow's golden corpus (`tests/corpus/`, our own pages).

Each page is read as `clean_page` reads it (`page.read_page`), save that every list the teaser
search finds is cut, the story's own lists too (`page.STORY_LISTS_IN_TRAINING`). Each block
gets a label from the page's annotated text: article when its words stand in the article body
in the same order, teaser when they stand in one of the page's teaser blocks, boilerplate
otherwise. Blocks are weighted so that every page counts about the same, whatever its number
of blocks.

Folds are grouped by site (`fold_of`): `--report` scores every fold's model on the pages of the
sites it never saw, block by block. LightGBM trains with one thread and fixed seeds, so the same
data gives the same trees. Needs `lightgbm` (the `train` extra), which the workers do not.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cleaning.features import FEATURES, block_features, host_of
from pipeline.cleaning.kind import page_features
from pipeline.cleaning.model import MODEL_FILE, BlockModel, from_lightgbm
from pipeline.cleaning.page import STORY_LISTS_IN_TRAINING, read_page
from pipeline.errors import PermanentError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
CORPUS = ROOT / "tests" / "corpus"
FOLDS = 5
# Two binary boosters (`model.KINDS`): article or not, on every block; teaser or boilerplate,
# on the blocks that are not article. One multiclass booster with three times the trees scored
# no better on held-out folds.
PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 32,
    "max_depth": 8,
    "min_data_in_leaf": 30,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 7,
    "verbose": -1,
}
ROUNDS = 120
TEASER_PARAMS: dict[str, Any] = {**PARAMS, "num_leaves": 16, "max_depth": 6}
TEASER_ROUNDS = 40
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


def fold_of(site: str, folds: int = FOLDS) -> int:
    """The fold of a site: every page of one site falls in one fold."""
    return int(hashlib.sha1(site.encode("utf-8")).hexdigest()[:8], 16) % folds


@dataclass
class LabelledPage:
    id: str
    set: str
    site: str
    url: str
    html: bytes
    body: str  # the annotated article text
    teasers: list[str]


def _json_list(value: Any) -> list[str]:
    """A ground-truth field that holds a list of texts (both sets store them as JSON lists)."""
    return [str(v) for v in value] if isinstance(value, list) else []


def load_pages(benchmarks: Path, corpus: Path = CORPUS) -> Iterator[LabelledPage]:
    """The training pages: ScrapingHub, wcxb-dev's article pages, the golden corpus."""
    sh = benchmarks / "scrapinghub"
    truth = json.loads(gzip.decompress((sh / "ground-truth.json.gz").read_bytes()))
    for pid, rec in sorted(truth.items()):
        html = gzip.decompress((sh / "html" / f"{pid}.html.gz").read_bytes())
        yield LabelledPage(
            pid, "scrapinghub", rec["site"], rec["url"], html, rec["articleBody"], _json_list(rec.get("teasers"))
        )
    wc = benchmarks / "wcxb-dev"
    truth = json.loads(gzip.decompress((wc / "ground-truth.json.gz").read_bytes()))
    for pid, rec in sorted(truth.items()):
        if rec.get("page_type") != "article":
            continue
        html = gzip.decompress((wc / "html" / f"{pid}.html.gz").read_bytes())
        url = rec.get("url") or f"https://{pid}.invalid/"
        yield LabelledPage(
            pid, "wcxb-dev", rec.get("site") or pid, url, html, rec["articleBody"], _json_list(rec.get("teasers"))
        )
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    for rec in manifest:
        html = (corpus / rec["path"]).read_bytes()
        body = (corpus / rec["expected"]).read_text(encoding="utf-8")
        yield LabelledPage(
            rec["path"], "corpus", "corpus:" + rec["site"], rec["url"], html, body, rec.get("teasers", [])
        )


class Labeller:
    """Which of article / teaser / boilerplate a block's text is, by the page's annotations."""

    SHINGLE = 3
    SHORT_WORDS = 5
    MIN_SHARE = 0.7

    def __init__(self, body: str, teasers: list[str]) -> None:
        self.body = " " + " ".join(words(body)) + " "
        self.body_shingles = self._shingles(words(body))
        self.teasers = " " + " | ".join(" ".join(words(t)) for t in teasers) + " "
        self.teaser_shingles = self._shingles([w for t in teasers for w in words(t)])

    def _shingles(self, ws: list[str]) -> set[tuple[str, ...]]:
        return {tuple(ws[i : i + self.SHINGLE]) for i in range(max(0, len(ws) - self.SHINGLE + 1))}

    def _found(self, ws: list[str], flat: str, shingles: set[tuple[str, ...]]) -> bool:
        if (" " + " ".join(ws) + " ") in flat:
            return True
        if len(ws) < 8:
            return False
        mine = self._shingles(ws)
        return len(mine & shingles) >= self.MIN_SHARE * len(mine)

    def label(self, text: str) -> int | None:
        ws = words(text)
        if not ws:
            return None
        if self._found(ws, self.body, self.body_shingles):
            return 1
        if self._found(ws, self.teasers, self.teaser_shingles):
            return 2
        return 0

    def labels(self, texts: list[str]) -> list[int | None]:
        """Labels of a page's blocks in order. A short block ("About", "Share", "Photo:") is
        article text only beside a longer block of the article, and only where its words stand
        in the body between those of its longer neighbours: alone, or found elsewhere in the
        body, its few words say nothing (a tag, a category label, a credit the annotators left
        out can all be words the story uses)."""
        out = [self.label(t) for t in texts]
        ws = [words(t) for t in texts]
        phrases = [" " + " ".join(w) + " " for w in ws]  # as they are looked for in `self.body`
        long = [len(w) >= self.SHORT_WORDS for w in ws]
        where = self._places(phrases, [long[i] and out[i] == 1 for i in range(len(texts))])
        for i, lab in enumerate(out):
            if lab != 1 or long[i]:
                continue
            prev = next((j for j in range(i - 1, -1, -1) if long[j]), None)
            after = next((j for j in range(i + 1, len(out)) if long[j]), None)
            if (prev is None or out[prev] != 1) and (after is None or out[after] != 1):
                out[i] = 0
                continue
            # From the last word of the longer block before it to the first of the one after.
            start = where[prev] + len(phrases[prev]) - 2 if prev is not None and where[prev] >= 0 else 0
            end = where[after] + 1 if after is not None and where[after] >= 0 else len(self.body)
            found = self.body.find(phrases[i], start)
            if found < 0 or found > end:
                out[i] = 0
        return out

    def _places(self, phrases: list[str], anchor: list[bool]) -> list[int]:
        """Where each anchor block's phrase stands in the body (-1: not word for word), read in
        page order: a paragraph printed twice (an interview's repeated question) is placed
        after the anchor before it."""
        where = [-1] * len(phrases)
        cursor = 0
        for i, needle in enumerate(phrases):
            if anchor[i]:
                at = self.body.find(needle, cursor)
                where[i] = at if at >= 0 else self.body.find(needle)
                if at >= 0:
                    cursor = at + len(needle) - 1
        return where


@dataclass
class Table:
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    page: np.ndarray  # index into `pages`
    fold: np.ndarray
    pages: list[LabelledPage]


@dataclass(frozen=True)
class PageReading:
    """What training takes from a page read as `clean_page` reads it: its blocks' texts, sizes
    and features (`block_features`), and its row of the page-kind model's features."""

    texts: list[str]
    chars: list[int]
    x: np.ndarray
    kind_row: np.ndarray


# Per process: the block classifier's tables and the page-kind model's read the same pages, and
# the bench and the test of the shipped models build both, folds and all. `read_page` gives the
# same reading of the same page every time, so each page is read once (a few hundred MB for the
# development sets).
_READINGS: dict[tuple[str, str], PageReading | None] = {}


def reading(html: bytes, url: str) -> PageReading | None:
    """The page read for training (None when `read_page` refuses it), once per process."""
    key = (hashlib.sha1(html).hexdigest(), url)
    if key not in _READINGS:
        try:
            read = read_page(html, url, story_lists=STORY_LISTS_IN_TRAINING)
        except PermanentError:
            _READINGS[key] = None
            return None
        x = block_features(read.blocks, host_of(read.canonical))
        texts, chars = [b.text for b in read.blocks], [b.chars for b in read.blocks]
        _READINGS[key] = PageReading(texts, chars, x, page_features(read, x)[0])
    return _READINGS[key]


def build_table(pages: list[LabelledPage]) -> Table:
    xs, ys, ws, ps, fs = [], [], [], [], []
    for n, lp in enumerate(pages):
        read = reading(lp.html, lp.url)
        if read is None or not read.texts:
            continue
        x = read.x
        labeller = Labeller(lp.body, lp.teasers)
        labels = labeller.labels(read.texts)
        keep = [i for i, lab in enumerate(labels) if lab is not None]
        if not keep:
            continue
        size = np.sqrt(np.array([read.chars[i] for i in keep], dtype=np.float64))
        xs.append(x[keep])
        ys.append(np.array([labels[i] for i in keep], dtype=np.int32))
        ws.append(size / size.sum() * 100.0)
        ps.append(np.full(len(keep), n, dtype=np.int32))
        fs.append(np.full(len(keep), fold_of(lp.site), dtype=np.int32))
        if n % 200 == 0:
            print(f"  read {n} of {len(pages)} pages", file=sys.stderr)
    return Table(np.vstack(xs), np.concatenate(ys), np.concatenate(ws), np.concatenate(ps), np.concatenate(fs), pages)


def fit(table: Table, mask: np.ndarray, meta: dict[str, Any]) -> BlockModel:
    import lightgbm as lgb  # the `train` extra: not needed to run the model

    x, y, weight = table.x[mask], table.y[mask], table.weight[mask]
    data = lgb.Dataset(x, (y == 1).astype(np.int32), weight=weight, feature_name=FEATURES, free_raw_data=True)
    article = lgb.train(PARAMS, data, num_boost_round=ROUNDS)
    rest = y != 1
    data = lgb.Dataset(x[rest], (y[rest] == 2).astype(np.int32), weight=weight[rest], feature_name=FEATURES)
    teaser = lgb.train(TEASER_PARAMS, data, num_boost_round=TEASER_ROUNDS)
    return from_lightgbm((article.dump_model(), teaser.dump_model()), FEATURES, meta)


def fold_models(table: Table) -> dict[int, BlockModel]:
    """One model per fold, each trained without that fold's sites."""
    return {k: fit(table, table.fold != k, {"fold": k, "folds": FOLDS}) for k in range(FOLDS)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmarks", type=Path, default=DEFAULT_BENCHMARKS)
    ap.add_argument("--out", type=Path, default=MODEL_FILE)
    ap.add_argument("--report", type=Path, help="write held-out block figures per fold to this JSON file")
    args = ap.parse_args(argv)
    pages = list(load_pages(args.benchmarks))
    print(f"{len(pages)} pages", file=sys.stderr)
    table = build_table(pages)
    counts = np.bincount(table.y, minlength=3).tolist()
    print(f"{len(table.y)} blocks: boilerplate {counts[0]}, article {counts[1]}, teaser {counts[2]}", file=sys.stderr)
    if args.report:
        report = {}
        for k, model in fold_models(table).items():
            held = table.fold == k
            pred = model.scores(table.x[held]).argmax(axis=1)
            truth = table.y[held]
            w = table.weight[held]
            tp = float(w[(pred == 1) & (truth == 1)].sum())
            fp = float(w[(pred == 1) & (truth != 1)].sum())
            fn = float(w[(pred != 1) & (truth == 1)].sum())
            report[k] = {"precision": tp / (tp + fp or 1), "recall": tp / (tp + fn or 1), "blocks": int(held.sum())}
            print(
                f"fold {k}: article blocks P {report[k]['precision']:.3f} R {report[k]['recall']:.3f}", file=sys.stderr
            )
        args.report.write_text(json.dumps(report, indent=2))
    sets = sorted({p.set for p in pages})
    meta = {
        "trained_on": sets,
        "pages": len(pages),
        "blocks": len(table.y),
        "params": PARAMS,
        "rounds": ROUNDS,
        "teaser_params": TEASER_PARAMS,
        "teaser_rounds": TEASER_ROUNDS,
    }
    model = fit(table, np.ones(len(table.y), dtype=bool), meta)
    model.save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB, {len(model.roots)} trees)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
