"""The query syntax readers type, parsed once for every backend.

    flood warning          every word must match (in the title or the body)
    "exact phrase"         the words next to each other, in this order
    -word  -"a phrase"     no document containing it
    flood OR storm         either (binds the two terms next to it: `a b OR c` is a AND (b OR c))
    site:example.org       only that site (as the `site` filter): a host (any case), or a
    site:"Valley Post"     site's name as its feed gives it (as written, quoted with spaces)
    lang:vi                only that language (as the `language` filter)

Words are folded (case and diacritics, Vietnamese đ included) as the indexes fold them, so
`"chinh quyen"` finds "Chính quyền". Each backend translates a `ParsedQuery` into its own
query language; the relevance order adds the same gentle boost for recent news everywhere.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pipeline.search.folding import fold_text

if TYPE_CHECKING:
    from pipeline.search.base import SearchQuery

# A word as every embedded index cuts text: letters and digits (the underscore separates).
WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TOKEN = re.compile(r'(?i:(site|lang|language)):"([^"]*)"?|(-?)"([^"]*)"?|(\S+)')
_HOST = re.compile(r"[^\s/]+\.[^\s/.]+")
SORTS = ("relevance", "date")
# Relevance prefers recent news, gently: a story published within RECENT of the search gains
# RECENCY_BOOST on top of its text score (a title match still outranks a body-only match).
RECENT = timedelta(days=7)
RECENCY_BOOST = 0.5

Phrase = tuple[str, ...]  # folded words; one word is a phrase of one


@dataclass(frozen=True)
class ParsedQuery:
    """What a query's text asks for. `clauses` must all match; each is a list of alternatives."""

    clauses: tuple[tuple[Phrase, ...], ...] = ()
    excluded: tuple[Phrase, ...] = ()
    site: str | None = None
    language: str | None = None
    empty: bool = False  # the text contradicts the filters (site:a with site=b): nothing matches
    words: tuple[str, ...] = field(default=())  # every word to find, for highlighting

    @property
    def has_text(self) -> bool:
        return bool(self.clauses)


@functools.lru_cache(maxsize=1024)
def parse_query(text: str) -> ParsedQuery:
    """Parse the reader's syntax (see the module docstring); never fails on any text. (Cached:
    each hit's snippet asks for the words again.)"""
    clauses: list[list[Phrase]] = []
    excluded: list[Phrase] = []
    site = language = None
    join_next = False
    for m in _TOKEN.finditer(text):
        keyed, negated, quoted, bare = m.group(1), m.group(3) == "-", m.group(4), m.group(5)
        key = value = ""
        if keyed is not None:
            key, value = keyed, m.group(2).strip()
        elif bare is not None:
            if bare == "OR":
                join_next = bool(clauses)
                continue
            if bare.startswith("-") and len(bare) > 1:
                negated, bare = True, bare[1:]
            key, sep, value = bare.partition(":")
            if not (sep and value and not negated):
                key = ""
            quoted = bare
        if value and key.lower() in ("site", "lang", "language"):
            if key.lower() == "site":
                # A host is one in any case; a site's name is matched as its feed writes it.
                site = value.lower() if _HOST.fullmatch(value) else value
            else:
                language = value.lower()
            continue
        phrase = tuple(WORD.findall(fold_text(quoted or "")))
        if not phrase:
            continue
        if negated:
            excluded.append(phrase)
        elif join_next:
            clauses[-1].append(phrase)
        else:
            clauses.append([phrase])
        join_next = False
    words = tuple(dict.fromkeys(w for clause in clauses for phrase in clause for w in phrase))
    # Text with no word, no exclusion and no filter in it (`✓😀`, `!!!`) asks for nothing that
    # can match: nothing matches, rather than every article.
    wordless = bool(text.strip()) and not (clauses or excluded or site or language)
    return ParsedQuery(
        empty=wordless,
        clauses=tuple(tuple(c) for c in clauses),
        excluded=tuple(excluded),
        site=site,
        language=language,
        words=words,
    )


def prepare(query: SearchQuery) -> tuple[ParsedQuery, SearchQuery]:
    """The parsed text, and the query with the text's `site:`/`lang:` moved into its filters."""
    if query.sort not in SORTS:
        raise ValueError(f"sort={query.sort!r}: expected one of {', '.join(SORTS)}")
    parsed = parse_query(query.text)
    merged = query
    for name in ("site", "language"):
        wanted, given = getattr(parsed, name), getattr(query, name)
        if wanted is None:
            continue
        if given is not None and given.lower() != wanted.lower():
            parsed = replace(parsed, empty=True)
        merged = replace(merged, **{name: wanted if given is None else given})
    return parsed, merged


def recent_since(now: datetime | None = None) -> datetime:
    """Stories published at or after this instant get the recency boost."""
    return (now or datetime.now(UTC)) - RECENT


def ranks_by_text(parsed: ParsedQuery, query: SearchQuery) -> bool:
    """Whether hits are ordered by their text score (else newest first)."""
    return parsed.has_text and query.sort == "relevance"
