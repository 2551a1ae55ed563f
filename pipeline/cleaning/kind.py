"""Is the page an article? One row of numbers per page, for the page-kind model.

A news pipeline is handed section fronts, tag pages, forum threads, shop pages and manuals
too; read as if they were stories, their text is a list of other pages' headlines or a
price table. What a page declares (its `og:type`, its JSON-LD types), the shape of its
address, the counts of its markup and the shape of its text blocks (links, lists, prices,
repeated siblings) say which kind it is, in any language: `page_features` computes them,
`PAGE_FEATURES` names the columns.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import numpy as np
from lxml import html as lxml_html

from pipeline.cleaning.blocks import TextBlock
from pipeline.cleaning.features import FEATURES
from pipeline.cleaning.model import BlockModel, load_shipped
from pipeline.metadata import PageMetadata
from pipeline.teasers import TeaserBlock


class ReadPage(Protocol):
    """What the model reads of a page: `page.ReadPage` has it (named here, not imported, as
    `page` imports this module)."""

    @property
    def root(self) -> lxml_html.HtmlElement: ...
    @property
    def meta(self) -> PageMetadata: ...
    @property
    def canonical(self) -> str: ...
    @property
    def blocks(self) -> list[TextBlock]: ...
    @property
    def teasers(self) -> list[TeaserBlock]: ...
    @property
    def fast_text(self) -> str: ...


KIND_MODEL_FILE = Path(__file__).with_name("page_kind_model.npz")
# A page the model scores at least this likely not to be an article is read as one that is
# not (`page.clean_page`). Through the pipeline bench on held-out folds (2026-12-06), 0.8 read
# 65-87% of each other wcxb-dev type so, but also 27 of its 787 articles, whose F1 fell 0.24
# points. At 0.95: 33-62% of each other type, 7 articles (F1 0.9505 -> 0.9502), none of
# ScrapingHub's 181.
NOT_ARTICLE_SCORE = 0.95


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words of an address's path that name a kind of page, by kind. English and the languages of
# our corpus; the model weighs them with everything else, so a miss only loses a hint.
_PATH_WORDS: dict[str, frozenset[str]] = {
    "forum": _words(
        "forum forums thread threads topic topics t community discussion discussions discuss questions question "
        "answers board boards showthread viewtopic diendan"
    ),
    "product": _words(
        "product products shop store item items p dp buy cart produkt produkte produit produits producto productos "
        "san-pham"
    ),
    "docs": _words(
        "docs doc documentation api reference guide guides manual manuals wiki learn help kb knowledge-base "
        "tutorial tutorials handbook"
    ),
    "listing": _words(
        "category categories tag tags section archive archives search page list lists collections collection "
        "browse index author authors chuyen-muc kategorie rubrique categoria"
    ),
    "service": _words(
        "services service pricing solutions about contact careers features plans support company dich-vu leistungen"
    ),
}
# JSON-LD and Open Graph types, by kind.
_DECLARED: dict[str, tuple[str, ...]] = {
    "story": ("article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle", "report"),
    "product": ("product", "offer", "aggregateoffer", "productgroup"),
    "listing": ("itemlist", "collectionpage", "searchresultspage", "breadcrumblist"),
    "forum": ("discussionforumposting", "qapage", "question", "socialmediaposting", "comment"),
    "docs": ("techarticle", "howto", "faqpage", "apireference"),
    "service": ("service", "localbusiness", "organization", "professionalservice", "softwareapplication"),
}
_COUNTED_TAGS = ("a", "li", "p", "h1", "h2", "h3", "article", "form", "input", "button", "pre", "code", "table", "img")
_PRICE = re.compile(r"[$€£¥₫]\s?\d|\d[\d.,]*\s?([€$£₫]|(usd|eur|gbp|zł|kr|đ|vnd)\b)", re.IGNORECASE)
PRICE_MAX_CHARS = 200  # a price tag is short; a longer block that names a sum is prose
_YEAR = re.compile(r"(19|20)\d\d")
_ID = re.compile(r"\d{5,}")
_SEGMENT_SPLIT = re.compile(r"[/._]+")

_COL = {name: i for i, name in enumerate(FEATURES)}
PAGE_FEATURES = [
    *(f"declared_{k}" for k in _DECLARED),
    "og_website",
    "has_date",
    "has_author",
    "has_section",
    "log_tags",
    "path_depth",
    "path_year",
    "path_id",
    "slug_words",
    "slug_chars",
    "trailing_slash",
    "has_query",
    *(f"path_{k}" for k in _PATH_WORDS),
    *(f"log_{t}" for t in _COUNTED_TAGS),
    "links_per_p",
    "log_blocks",
    "log_text_chars",
    "linked_share",
    "link_density",
    "heading_share",
    "li_share",
    "sentence_share",
    "price_blocks",
    "rep_share",
    "main_parent_share",
    "log_teasers",
    "teaser_share",
    "fast_share",
    "log_fast_chars",
]


def _log(n: float) -> float:
    return math.log1p(max(n, 0.0))


def path_words(path: str) -> set[str]:
    """The words of an address's path, lower-cased, split at slashes, dots and underscores."""
    return {w for w in _SEGMENT_SPLIT.split(path.lower()) if w}


def page_features(page: ReadPage, x: np.ndarray) -> np.ndarray:
    """The page's row of `PAGE_FEATURES` (one row); `x` holds its blocks' features
    (`features.block_features`). The block classifier's scores are left out on purpose: the
    page-kind model then needs no retraining when the block classifier changes, and on
    held-out folds they added nothing (AUC 0.970 with them, 0.972 without)."""
    meta = page.meta
    declared = meta.kinds
    row: list[float] = [float(any(t in declared for t in types)) for types in _DECLARED.values()]
    row.append(float("og:website" in declared))
    row += [float(meta.published_at is not None), float(bool(meta.authors)), float(bool(meta.section))]
    row.append(_log(len(meta.tags)))
    parts = urlsplit(page.canonical)
    segments = [s for s in parts.path.split("/") if s]
    slug = segments[-1] if segments else ""
    row += [
        float(len(segments)),
        float(bool(_YEAR.search(parts.path))),
        float(bool(_ID.search(parts.path))),
        float(slug.count("-") + slug.count("_") + (1 if slug else 0)),
        _log(len(slug)),
        float(parts.path.endswith("/")),
        float(bool(parts.query)),
    ]
    words = path_words(parts.path)
    row += [float(bool(words & kind)) for kind in _PATH_WORDS.values()]
    counts = Counter(el.tag for el in page.root.iter(_COUNTED_TAGS))
    row += [_log(counts[t]) for t in _COUNTED_TAGS]
    row.append(counts["a"] / (counts["p"] + 1))
    blocks = page.blocks
    chars = np.array([len(b.text) for b in blocks], dtype=np.float64)
    total = float(chars.sum())
    if len(blocks):
        density = x[:, _COL["link_density"]]
        weights = chars / (total or 1.0)
        row += [
            _log(len(blocks)),
            _log(total),
            float(weights[density > 0.5].sum()),
            float((density * weights).sum()),
            float(x[:, _COL["is_heading"]].mean()),
            float(x[:, _COL["in_li"]].mean()),
            float(x[:, _COL["ends_sentence"]].mean()),
            _log(sum(1 for b in blocks if len(b.text) < PRICE_MAX_CHARS and _PRICE.search(b.text))),
            float((weights * x[:, _COL["rep_parent"]]).sum()),  # log siblings alike: cards and lists
            float(x[0, _COL["main_parent_share"]]),
        ]
    else:
        row += [0.0] * 10
    teaser_chars = sum(len(t.text) for t in page.teasers)
    row += [
        _log(len(page.teasers)),
        teaser_chars / (teaser_chars + total + 1.0),
        len(page.fast_text) / (total + 1.0),
        _log(len(page.fast_text)),
    ]
    return np.array([row], dtype=np.float64)


@functools.cache
def shipped_kind_model() -> BlockModel:
    """The page-kind model in the package, read once per process."""
    return load_shipped(
        KIND_MODEL_FILE, PAGE_FEATURES, "pipeline/cleaning/kind.py", "python -m pipeline.cleaning.train_kind"
    )


def not_article_score(page: ReadPage, x: np.ndarray, model: BlockModel | None = None) -> float:
    """How likely the page is not an article (0-1), by the page-kind model."""
    model = model or shipped_kind_model()
    return float(model.scores(page_features(page, x))[0, 0])
