"""Hits with snippets: highlighted matches cut from the original (accented) text."""

from __future__ import annotations

import functools
import html
import re

from pipeline.models import Article
from pipeline.search.base import SearchHit
from pipeline.search.folding import fold_text
from pipeline.search.query import parse_query

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)  # a word, as pipeline.search.query.WORD


def make_hit(art: Article, query_text: str, score: float, cluster_size: int = 1) -> SearchHit:
    """A hit for one stored article (every backend builds its hits here)."""
    return SearchHit(
        id=art.id,
        url=art.url,
        title=art.title,
        site=art.site,
        language=art.language,
        published_at=art.published_at.isoformat() if art.published_at else None,
        snippet=make_snippet(art.body, query_text),
        score=score,
        cluster_id=art.cluster_id,
        cluster_size=max(1, cluster_size),
    )


def make_snippet(body: str, query: str, width: int = 240) -> str:
    """An excerpt of `body` around the densest run of query words, each wrapped in <mark>.

    Matching folds case and diacritics, so "quyen" marks "quyền"; the query's syntax is
    understood (`-word`, `site:`, `OR` mark nothing). Text is HTML-escaped.
    """
    terms = frozenset(parse_query(query).words)
    hits = _matches(body, terms) if terms else []
    if not hits:
        return html.escape(_cut(body, 0, width))
    # Centre the window on the hit with the most other hits within `width` characters.
    best = max(hits, key=lambda m: sum(1 for h in hits if 0 <= h.start() - m.start() < width))
    start = max(0, best.start() - width // 4)
    start = body.rfind(" ", 0, start) + 1 if start else 0
    end = min(len(body), start + width)
    out: list[str] = ["…" if start else ""]
    pos = start
    for m in hits:
        if m.start() < start or m.end() > end:
            continue
        out.append(html.escape(body[pos : m.start()]))
        out.append(f"<mark>{html.escape(m.group())}</mark>")
        pos = m.end()
    out.append(html.escape(body[pos:end]))
    if end < len(body):
        out.append("…")
    return "".join(out).replace("\n", " ")


def _matches(body: str, terms: frozenset[str]) -> list[re.Match[str]]:
    """The words of `body` that fold to one of `terms`. Every hit of a page gets a snippet:
    an ASCII body is searched by one regular expression, others fold only their non-ASCII words."""
    if body.isascii():
        return list(_ascii_pattern(terms).finditer(body))
    return [m for m in _TOKEN.finditer(body) if _fold_word(m.group()) in terms]


def _fold_word(word: str) -> str:
    return word.lower() if word.isascii() else fold_text(word)


@functools.lru_cache(maxsize=256)
def _ascii_pattern(terms: frozenset[str]) -> re.Pattern[str]:
    words = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{words})(?![^\W_])", re.IGNORECASE)


def _cut(text: str, start: int, width: int) -> str:
    piece = text[start : start + width]
    return (piece + "…" if start + width < len(text) else piece).replace("\n", " ")
