"""Feeds: the feed list, parsing (feedparser), and polling for new article URLs."""

from __future__ import annotations

import hashlib
import re
import time
import xml.sax
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from pipeline.errors import PermanentError
from pipeline.fetching import Fetcher
from pipeline.state import StateStore
from pipeline.urls import canonicalize_url, site_of

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
# A DOCTYPE with entity declarations is how billion-laughs and external-entity attacks start;
# no real feed needs one.
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


class FeedConfig(BaseModel):
    """One entry of the feeds file."""

    url: str
    site: str | None = None
    language: str | None = None
    interval: float | None = Field(default=None, gt=0)

    @field_validator("url")
    @classmethod
    def _canonical(cls, value: str) -> str:
        return canonicalize_url(value)

    @property
    def id(self) -> str:
        return hashlib.sha1(self.url.encode("utf-8")).hexdigest()[:16]

    @property
    def site_name(self) -> str:
        return self.site or site_of(self.url)


def load_feeds(path: Path | str) -> list[FeedConfig]:
    """Read a feeds file: YAML with `feeds:` a list of {url, site?, language?, interval?}."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"feeds file {path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"feeds file {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("feeds"), list):
        raise ValueError(f"feeds file {path}: expected a mapping with a `feeds:` list")
    feeds: list[FeedConfig] = []
    for i, item in enumerate(data["feeds"], 1):
        if isinstance(item, str):
            item = {"url": item}
        try:
            feeds.append(FeedConfig.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"feeds file {path}: feed #{i} {where}: {first['msg']}") from None
    return feeds


@dataclass
class FeedEntry:
    url: str  # canonical
    guid: str | None
    title: str
    published_at: datetime | None


@dataclass
class ParsedFeed:
    title: str
    entries: list[FeedEntry] = field(default_factory=list)
    ttl_minutes: int | None = None


def parse_feed(body: bytes, feed_url: str) -> ParsedFeed:
    """Parse RSS 0.9x/1.0/2.0 or Atom bytes into entries with canonical URLs.

    Raises PermanentError for what is not a feed at all. A feed with small errors
    (feedparser's "bozo") still yields the entries it could read.
    """
    if _ENTITY_DECL.search(body[:65536]):
        raise PermanentError(f"feed {feed_url}: declares XML entities; refused (entity expansion attack?)")
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    version = parsed.get("version") or ""
    if not version and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise PermanentError(f"feed {feed_url}: not a feed ({reason}); check the feed URL")
    broken = parsed.get("bozo_exception")
    if isinstance(broken, xml.sax.SAXException) and not parsed.entries:
        # Cut off or garbled XML with nothing readable in it; a feed with small errors but
        # readable entries goes on.
        raise PermanentError(f"feed {feed_url}: not a feed: malformed XML ({broken}); will retry at the next poll")
    entries: list[FeedEntry] = []
    for raw in parsed.entries:
        link = _entry_link(raw)
        if not link:
            continue
        try:
            url = canonicalize_url(link, base=feed_url)
        except ValueError:
            continue
        entries.append(
            FeedEntry(url=url, guid=raw.get("id") or None, title=raw.get("title", ""), published_at=_entry_date(raw))
        )
    ttl = parsed.feed.get("ttl")
    return ParsedFeed(
        title=parsed.feed.get("title", ""),
        entries=entries,
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.isdigit() else None,
    )


def _entry_link(raw: Any) -> str | None:
    link = raw.get("link")
    if link:
        return str(link)
    for item in raw.get("links", []):
        if item.get("rel", "alternate") == "alternate" and item.get("href"):
            return str(item["href"])
    guid = raw.get("id", "")
    return guid if guid.startswith(("http://", "https://")) else None


def _entry_date(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        value = raw.get(key)
        if value:
            year, month, day, hour, minute, second = value[:6]
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return None


@dataclass
class PollResult:
    feed: FeedConfig
    status: int
    entries: int
    new_entries: list[FeedEntry]


def poll_feed(feed: FeedConfig, fetcher: Fetcher, state: StateStore, max_bytes: int) -> PollResult:
    """Fetch a feed (conditionally), parse it, and return the entries not seen before.

    Claims each new URL in the shared seen-set, so concurrent polls never hand out the
    same URL twice. The caller queues the new entries and releases any it fails to queue.
    """
    prev = state.feed_state(feed.id)
    headers = {}
    if prev.get("etag"):
        headers["If-None-Match"] = prev["etag"]
    if prev.get("last_modified"):
        headers["If-Modified-Since"] = prev["last_modified"]
    now = time.time()
    try:
        result = fetcher.fetch(feed.url, accept=FEED_ACCEPT, headers=headers, max_bytes=max_bytes, allowed_types=None)
    except Exception as exc:
        _record_failure(state, feed, exc, now)
        raise
    if result.status == 304:
        state.update_feed_state(feed.id, last_success=now, consecutive_errors=0, last_status=304)
        return PollResult(feed, 304, 0, [])
    try:
        parsed = parse_feed(result.body, feed.url)
    except PermanentError as exc:
        _record_failure(state, feed, exc, now)
        raise
    new = [e for e in parsed.entries if state.claim_url(e.url)]
    state.update_feed_state(
        feed.id,
        etag=result.headers.get("etag"),
        last_modified=result.headers.get("last-modified"),
        last_success=now,
        last_status=result.status,
        consecutive_errors=0,
        last_error="",
    )
    state.bump_feed_counter(feed.id, "items_seen", len(new))
    return PollResult(feed, result.status, len(parsed.entries), new)


def _record_failure(state: StateStore, feed: FeedConfig, exc: Exception, now: float) -> None:
    state.bump_feed_counter(feed.id, "consecutive_errors")
    state.bump_feed_counter(feed.id, "errors_total")
    state.update_feed_state(feed.id, last_error=str(exc), last_error_at=now)
