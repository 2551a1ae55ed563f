"""The search backend interface that Tantivy, SQLite FTS5 and Elasticsearch implement.

Backends take `Article` documents and answer `SearchQuery` objects with a `SearchPage`.
The contract tests in `tests/search/` hold every backend to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pipeline.models import Article


@dataclass(frozen=True)
class SearchQuery:
    """A full-text query with filters. An empty `text` matches every document."""

    text: str = ""
    site: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 10
    collapse: bool = True  # one hit per near-duplicate cluster
    search_after: list[Any] | None = None  # opaque cursor from SearchPage.next_cursor
    facets: bool = False  # counts by site, language and day ("published", YYYY-MM-DD) of what matches
    cluster: str | None = None  # only the members of this near-duplicate cluster (a hit's cluster_id)
    sort: str = "relevance"  # or "date": newest first (pipeline.search.query.SORTS)


@dataclass
class SearchHit:
    id: str
    url: str
    title: str
    site: str
    language: str | None
    published_at: str | None
    snippet: str  # body excerpt with matches wrapped in <mark>...</mark>
    score: float
    cluster_id: str | None = None
    cluster_size: int = 1  # members of the cluster, this hit included


FACET_NAMES = ("site", "language", "published")


@dataclass
class SearchPage:
    total: int  # matching documents (clusters when collapsed)
    hits: list[SearchHit]
    next_cursor: list[Any] | None = None
    facets: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def nothing(cls, facets: bool) -> SearchPage:
        """No hits (a query that contradicts its filters), with empty facets when asked."""
        return cls(total=0, hits=[], facets={name: {} for name in FACET_NAMES} if facets else {})

    def to_json(self) -> dict[str, Any]:
        """The page as the CLI's --json and the HTTP API print it."""
        return {
            "total": self.total,
            "hits": [asdict(h) for h in self.hits],
            "next_cursor": self.next_cursor,
            "facets": self.facets,
        }


@dataclass
class IndexOutcome:
    """What one bulk call did, item by item."""

    indexed: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # id -> reason (dead-letter these)
    resent: int = 0  # documents sent again after the backend came back from an outage


@dataclass
class Pruned:
    """What `prune()` removed (or, in a dry run, would remove): the articles dated before
    `before` (`article_date`)."""

    before: datetime
    dropped: dict[str, int] = field(default_factory=dict)  # whole index -> the articles it held
    deleted: dict[str, int] = field(default_factory=dict)  # index -> articles deleted one by one

    @property
    def articles(self) -> int:
        return sum(self.dropped.values()) + sum(self.deleted.values())


def article_date(art: Article) -> datetime | None:
    """The date that places an article in time for retention (and, on Elasticsearch, in its
    month's index): its publication, else when its page was fetched."""
    return art.published_at or art.fetched_at


class SearchBackend(Protocol):
    """Stores Article documents and searches them."""

    def ensure_ready(self) -> None:
        """Create the index/tables if missing. Safe to call many times."""

    def index(self, articles: Iterable[Article]) -> IndexOutcome:
        """Insert or overwrite documents by id (idempotent)."""

    def get(self, doc_id: str) -> Article | None: ...

    def delete(self, doc_id: str) -> bool: ...

    def search(self, query: SearchQuery) -> SearchPage: ...

    def count(self) -> int: ...

    def iter_all(self) -> Iterator[Article]:
        """Every document, in id order."""

    def prune(self, before: datetime, *, dry_run: bool = False) -> Pruned:
        """Remove the articles dated before `before` (`article_date`); a dry run only counts them."""

    def close(self) -> None: ...
