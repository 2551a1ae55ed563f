"""The Article document and the small value types that travel between stages."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def article_id(canonical_url: str) -> str:
    """Stable document id: a hash of the canonical URL, so a re-run overwrites."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class RelatedLink(BaseModel):
    """A teaser that pointed at another article: kept as a link, never as body text."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    url: str
    """The address the teaser linked to."""
    title: str = ""
    """The teaser's headline."""


class Extraction(BaseModel):
    """What the cleaning removed and why, for the operator and `newsflow explain`."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    kept_blocks: int = 0
    """Text blocks kept in the body."""
    removed: dict[str, int] = Field(default_factory=dict)
    """Blocks removed, counted by reason."""
    removed_fingerprints: dict[str, list[str]] = Field(default_factory=dict)
    """The fingerprints of the removed blocks, by reason."""
    extractor: str = ""
    """What chose the body: `classifier`, `trafilatura` (its full cascade) or `fallback` (the
    page's densest prose)."""
    not_article: float = 0.0
    """The page-kind model's probability that the page is not an article (a section front, a
    forum thread, a shop, service or documentation page). From 0.95 the page was read as not an
    article: trafilatura's full cascade chose its text, less the lines under 60 characters the
    block classifier took for boilerplate."""


class Article(BaseModel):
    """One cleaned article, as indexed by every search backend."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    """A hash of the canonical URL: the same article always has the same id."""
    url: str
    """The address the page was fetched from (or archived at)."""
    canonical_url: str
    """The article's own address: tracking parameters and fragments dropped, the page's
    `<link rel=canonical>` followed."""
    site: str
    """The site's name: the feed's `site`, else taken from the page's host."""
    feed: str | None = None
    """The feed that listed the article; none for an imported page."""
    title: str = ""
    """The headline."""
    body: str = ""
    """The article's text, without teasers, boilerplate, captions or the headline."""
    summary: str = ""
    """The page's description, else the start of the body."""
    authors: list[str] = Field(default_factory=list)
    """Authors, from meta tags, JSON-LD or the byline."""
    published_at: datetime | None = None
    """When the article was published, in UTC, as the page says (an imported page that says
    nothing: its archive date)."""
    fetched_at: datetime | None = None
    """When the page was fetched (or archived), in UTC."""
    language: str | None = None
    """The language code the page declares, else the feed's."""
    section: str | None = None
    """The site's section, when the page names one."""
    tags: list[str] = Field(default_factory=list)
    """Keywords the page gives."""
    image: str | None = None
    """The page's lead image (`og:image` or JSON-LD)."""
    related: list[RelatedLink] = Field(default_factory=list)
    """Teasers of other articles, removed from the body and kept as links."""
    captions: list[str] = Field(default_factory=list)
    """Image captions, each once, in page order."""
    source_url: str | None = None
    """The address a "Nguồn:" or "Source:" line of the page credits."""
    content_hash: str = ""
    """A hash of the body's words, blind to case, spacing and punctuation: the same text
    reached by two URLs has the same hash."""
    cluster_id: str | None = None
    """The id of the first article of the story's near-duplicate cluster (its own when it is
    the first)."""
    duplicate_of: str | None = None
    """The earlier article this one is most like, when it is a near-duplicate."""
    raw_ref: str | None = None
    """The stored raw page, in the raw store."""
    extraction: Extraction = Field(default_factory=Extraction)
    """What the cleaning removed, and why."""

    @field_validator("published_at", "fetched_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return as_utc(value) if value else None

    def to_doc(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO 8601 strings)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Article:
        return cls.model_validate(doc)
