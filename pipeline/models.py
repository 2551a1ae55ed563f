"""The Article document and the small value types that travel between stages."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator


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

    url: str
    title: str = ""


class Extraction(BaseModel):
    """What the cleaning removed and why, for the operator and `newsflow explain`."""

    kept_blocks: int = 0
    removed: dict[str, int] = Field(default_factory=dict)  # reason -> count
    removed_fingerprints: dict[str, list[str]] = Field(default_factory=dict)
    extractor: str = ""


class Article(BaseModel):
    """One cleaned article, as indexed by every search backend."""

    id: str
    url: str
    canonical_url: str
    site: str
    feed: str | None = None
    title: str = ""
    body: str = ""
    summary: str = ""
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    fetched_at: datetime | None = None
    language: str | None = None
    section: str | None = None
    tags: list[str] = Field(default_factory=list)
    image: str | None = None
    related: list[RelatedLink] = Field(default_factory=list)
    captions: list[str] = Field(default_factory=list)  # image captions, each once, in page order
    source_url: str | None = None
    content_hash: str = ""
    cluster_id: str | None = None
    duplicate_of: str | None = None
    raw_ref: str | None = None
    extraction: Extraction = Field(default_factory=Extraction)

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
