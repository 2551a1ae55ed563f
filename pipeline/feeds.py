"""Feeds: the feed list, parsing, discovery, and polling for new article URLs.

Shapes read: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON Feed 1.x, and sitemaps (Google News
sitemaps included). Bytes are decoded here, trusting a BOM, then the HTTP header, then the
XML declaration, then detection, and always normalised to NFC (legacy Vietnamese encodings
such as windows-1258 write tone marks as combining characters).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import time
import xml.sax
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import yaml
from lxml import etree
from lxml import html as lxml_html
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from pipeline.charset import decode_xml
from pipeline.errors import FeedsFileError, HostBusy, NewsflowError, PermanentError
from pipeline.fetching import FetchResult, PageFetcher
from pipeline.stages import fetch_work
from pipeline.state import StateStore, WorkItem, url_digest
from pipeline.urls import canonicalize_url, name_and_address, request_url, site_of

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
# A DOCTYPE with entity declarations is how billion-laughs and external-entity attacks start;
# no real feed needs one.
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


class FeedConfig(BaseModel):
    """One entry of the feeds file."""

    url: str  # canonical: the feed's identity
    site: str | None = None
    language: str | None = None
    interval: float | None = Field(default=None, gt=0)
    # The address as written (`request_url`), where it differs from `url`: what the server is
    # asked for, since some read the query raw ("index.php?/rss/1-news.xml/").
    address: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _as_written(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        given = data.get("address")
        try:
            named, address = name_and_address(given if isinstance(given, str) else data["url"])
            canonical = canonicalize_url(data["url"]) if isinstance(given, str) else named
        except ValueError:
            return data  # the url's own validator (or the address's type check) says what is wrong
        if named != canonical:
            raise ValueError(f"address {given!r} is another page than the feed's url {data['url']!r}")
        return {**data, "address": address}

    @field_validator("url")
    @classmethod
    def _canonical(cls, value: str) -> str:
        return canonicalize_url(value)

    @property
    def fetch_url(self) -> str:
        """What the server is asked for: the address as written."""
        return self.address or self.url

    @property
    def id(self) -> str:
        return hashlib.sha1(self.url.encode("utf-8")).hexdigest()[:16]

    @property
    def site_name(self) -> str:
        return self.site or site_of(self.url)


def load_feeds(path: Path | str) -> list[FeedConfig]:
    """Read a feeds file: YAML with `feeds:` a list of {url, site?, language?, interval?}.

    A key that no feed has is refused, naming it: a misspelt `intervall:` must not pass
    unnoticed."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FeedsFileError(f"feeds file {path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise FeedsFileError(f"feeds file {path}: not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise FeedsFileError(f"feeds file {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("feeds"), list):
        raise FeedsFileError(f"feeds file {path}: expected a mapping with a `feeds:` list")
    known = set(FeedConfig.model_fields)
    feeds: list[FeedConfig] = []
    for i, item in enumerate(data["feeds"], 1):
        if isinstance(item, str):
            item = {"url": item}
        if isinstance(item, dict) and (unknown := sorted(str(k) for k in item if k not in known)):
            keys = ", ".join(FeedConfig.model_fields)
            raise FeedsFileError(f"feeds file {path}: feed #{i}: unknown key {unknown[0]!r} (a feed has {keys})")
        try:
            feeds.append(FeedConfig.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            where = f" {where}" if where else ""  # a check of the whole entry names no field
            raise FeedsFileError(f"feeds file {path}: feed #{i}{where}: {first['msg']}") from None
    return feeds


@dataclass
class FeedEntry:
    url: str  # canonical: the article's identity
    guid: str | None
    title: str
    published_at: datetime | None
    address: str | None = None  # the link as written (`request_url`) where it differs from `url`


# Why an item of a feed was not taken, counted per feed (`ParsedFeed.skipped`, then the feed's health).
SKIP_NO_LINK = "no_link"  # no link at all, and no GUID that is a web address
SKIP_NOT_HTTP = "not_http_link"  # javascript:, data:, file:, ftp:, mailto: ... never fetched
SKIP_BAD_LINK = "bad_link"  # an http(s) link that is not a valid URL (bad port, host, brackets)
SKIP_NOT_OBJECT = "not_an_object"  # a JSON Feed item that is not an object
SKIP_WRONG_TYPE = "wrong_type"  # a JSON Feed item whose url or external_url is not a string


@dataclass
class ParsedFeed:
    title: str
    entries: list[FeedEntry] = field(default_factory=list)
    ttl_minutes: int | None = None
    update_period: float | None = None  # seconds, from sy:updatePeriod / sy:updateFrequency
    kind: str = "rss"  # rss, atom, json, sitemap
    skipped: dict[str, int] = field(default_factory=dict)  # items not taken, by reason (SKIP_*)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def entries_hash(self) -> str:
        """A digest of what the feed says (entry ids, links, titles), blind to build dates."""
        h = hashlib.sha256()
        for e in self.entries:
            h.update(f"{e.guid or ''}\x00{e.url}\x00{e.title}\x01".encode())
        return h.hexdigest()[:32]


# -- decoding -------------------------------------------------------------------------------------
_XML_DECL_ANY = re.compile(r"""^\s*<\?xml[^>]*\?>""")


# -- parsing --------------------------------------------------------------------------------------
_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 7 * 86400.0, "monthly": 30 * 86400.0, "yearly": 365 * 86400.0}


def parse_feed(body: bytes, feed_url: str, charset: str | None = None) -> ParsedFeed:
    """Parse RSS, Atom, JSON Feed or sitemap bytes into entries with canonical URLs.

    Raises PermanentError for what is not a feed at all, and for XML that declares entities
    (billion laughs, external entities). A feed with small errors still yields what it could read.
    """
    if _ENTITY_DECL.search(body):
        raise PermanentError(f"feed {feed_url}: declares XML entities; refused (entity expansion attack?)")
    text = decode_xml(body, charset)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _parse_json_feed(stripped, feed_url)
    if re.match(r"(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(\w+:)?(urlset|sitemapindex)\b", stripped, re.DOTALL):
        return _parse_sitemap(stripped, feed_url)
    return _parse_xml_feed(stripped, feed_url)


def _parse_xml_feed(text: str, feed_url: str) -> ParsedFeed:
    # Decoded already: hand feedparser UTF-8 that says so, as a stream (given bytes, feedparser
    # would first try them as a file name). Links are resolved here (see `_OPAQUE_BASE`).
    text = _XML_DECL_ANY.sub('<?xml version="1.0" encoding="utf-8"?>', text, count=1)
    try:
        parsed = _feedparser(text, _OPAQUE_BASE)
    except ValueError as exc:  # its strict parser, on a namespace URI with a space in it
        raise PermanentError(f"feed {feed_url}: not a feed: unreadable XML ({exc}); will retry next poll") from None
    version = parsed.get("version") or ""
    if not version and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS or Atom root element"
        raise PermanentError(f"feed {feed_url}: not a feed ({reason}); check the feed URL")
    broken = parsed.get("bozo_exception")
    if isinstance(broken, xml.sax.SAXException) and not parsed.entries:
        # Cut off or garbled XML with nothing readable in it; a feed with small errors but
        # readable entries goes on.
        raise PermanentError(f"feed {feed_url}: not a feed: malformed XML ({broken}); will retry at the next poll")
    ttl = parsed.feed.get("ttl")
    feed = ParsedFeed(
        title=parsed.feed.get("title", ""),
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.strip().isdigit() else None,
        update_period=_update_period(parsed.feed.get("sy_updateperiod"), parsed.feed.get("sy_updatefrequency")),
        kind="atom" if version.startswith("atom") else "rss",
    )
    # xml:base is scoped to the element that carries it. A feed that uses xml:base is read
    # again with its own URL as the base, for the links only: ids stay as written.
    based = parsed.entries
    if "base=" in text:
        again = _feedparser(text, base=feed_url).entries
        based = again if len(again) == len(parsed.entries) else based
    for raw, linked in zip(parsed.entries, based, strict=True):
        taken = _entry_url(feed, _entry_link(raw, linked), feed_url)
        if taken:
            title = raw.get("title", "")
            feed.entries.append(FeedEntry(taken[0], raw.get("id") or None, title, _entry_date(raw), address=taken[1]))
    return feed


# The base of the first read: feedparser restores the feed's base when an xml:base scope ends
# only if that base is not empty (an empty one let one entry's xml:base leak into the next),
# and a base in a scheme urljoin treats as opaque resolves nothing: a relative link stays
# relative for `_entry_url`, and an opaque Atom id (`episode-2`) is not offered as a link.
_OPAQUE_BASE = "feed:newsflow"


def _feedparser(text: str, base: str) -> Any:
    headers = {"content-type": "application/xml; charset=utf-8", "content-location": base}
    return feedparser.parse(
        io.BytesIO(text.encode("utf-8")), sanitize_html=False, resolve_relative_uris=False, response_headers=headers
    )


def _entry_url(feed: ParsedFeed, link: str | None, base: str) -> tuple[str, str | None] | None:
    """The canonical URL of an item's link and the link as written where it differs (the page is
    asked for so: a server may read its query raw), or None after counting why it is not taken."""
    if not link:
        feed.skip(SKIP_NO_LINK)
        return None
    try:
        return name_and_address(link, base=base)
    except ValueError:
        pass
    try:
        scheme = urlsplit(urljoin(base, link.strip())).scheme.lower()
    except ValueError:
        scheme = "http"  # unreadable even as a URL: a broken web address
    feed.skip(SKIP_BAD_LINK if scheme in ("http", "https") else SKIP_NOT_HTTP)
    return None


def _update_period(period: Any, frequency: Any) -> float | None:
    if not isinstance(period, str) or period.strip().lower() not in _PERIODS:
        return None
    seconds = _PERIODS[period.strip().lower()]
    try:
        freq = max(1, int(str(frequency).strip())) if frequency else 1
    except ValueError:
        freq = 1
    return seconds / freq


def _parse_json_feed(text: str, feed_url: str) -> ParsedFeed:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PermanentError(f"feed {feed_url}: not a feed: invalid JSON ({exc})") from None
    if not isinstance(data, dict) or "jsonfeed.org/version/" not in str(data.get("version", "")):
        raise PermanentError(f"feed {feed_url}: not a feed: JSON without a JSON Feed version")
    items = data.get("items")
    if not isinstance(items, list):
        what = "no items" if items is None else f"items as {_json_type(items)}, not a list"
        raise PermanentError(f"feed {feed_url}: not a feed: JSON Feed with {what}; will retry at the next poll")
    feed = ParsedFeed(title=data["title"] if isinstance(data.get("title"), str) else "", kind="json")
    for item in items:
        if not isinstance(item, dict):
            feed.skip(SKIP_NOT_OBJECT)
            continue
        links = [item.get("url"), item.get("external_url")]
        link = next((v for v in links if isinstance(v, str) and v.strip()), None)
        if link is None and any(v not in (None, "") for v in links):
            feed.skip(SKIP_WRONG_TYPE)
            continue
        raw_id = item.get("id")
        guid = str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) and raw_id != "" else None
        if link is None and guid and guid.startswith(("http://", "https://")):
            link = guid
        taken = _entry_url(feed, link, feed_url)
        if taken:
            published = _iso_date(item.get("date_published") or item.get("date_modified"))
            title = item["title"] if isinstance(item.get("title"), str) else ""
            feed.entries.append(FeedEntry(taken[0], guid, title, published, address=taken[1]))
    return feed


def _json_type(value: Any) -> str:
    return {dict: "an object", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _parse_sitemap(text: str, feed_url: str) -> ParsedFeed:
    text = _XML_DECL_ANY.sub("", text, count=1)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=parser)
    except etree.XMLSyntaxError as exc:
        raise PermanentError(f"feed {feed_url}: not a feed: malformed sitemap ({exc})") from None
    if root is None:
        raise PermanentError(f"feed {feed_url}: not a feed: empty sitemap")
    if str(root.tag).rsplit("}", 1)[-1] == "sitemapindex":  # not QName: a namespace with "}" in it breaks it
        raise PermanentError(
            f"feed {feed_url}: a sitemap index, not a sitemap of articles; add the news sitemap it lists instead"
        )
    feed = ParsedFeed(title="", kind="sitemap")
    for node in root.iter(f"{{{_SITEMAP_NS}}}url", "url"):
        loc = _child_text(node, f"{{{_SITEMAP_NS}}}loc") or _child_text(node, "loc")
        taken = _entry_url(feed, loc, feed_url)
        if not taken:
            continue
        title = _child_text(node, f"{{{_NEWS_NS}}}news/{{{_NEWS_NS}}}title") or ""
        date = _child_text(node, f"{{{_NEWS_NS}}}news/{{{_NEWS_NS}}}publication_date") or _child_text(
            node, f"{{{_SITEMAP_NS}}}lastmod"
        )
        feed.entries.append(FeedEntry(taken[0], None, title.strip(), _iso_date(date), address=taken[1]))
    return feed


def _child_text(node: Any, path: str) -> str | None:
    found = node.find(path)
    try:
        return found.text.strip() if found is not None and found.text else None
    except UnicodeDecodeError:  # recovered XML keeps `&#xD800;` as bytes lxml cannot read: no value
        return None


def _iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _entry_link(raw: Any, linked: Any = None) -> str | None:
    """The link of a feedparser entry: its alternate link, else a GUID that is a web address.

    `linked`: the same entry read with the feed's URL as base (its links resolved in their
    xml:base scope); the GUID is taken from `raw`, as written."""
    linked = raw if linked is None else linked
    alternates = [
        str(item["href"])
        for item in linked.get("links") or []
        if isinstance(item, dict) and item.get("rel", "alternate") == "alternate" and item.get("href")
    ]
    if (chosen := linked.get("link")) and str(chosen) in alternates:
        return str(chosen)
    if alternates:
        return alternates[0]
    link = raw.get("link")
    # Without an alternate link feedparser copies the GUID into `link`, web address or not
    # (`x2`, `javascript:void(0)`): only a GUID that is an http(s) URL names the article.
    for value in (link, raw.get("id")):
        if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
            return value
    return None


def _entry_date(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        value = raw.get(key) if key in raw else None  # `in`: no fallback to the published date, with a warning
        if value:
            year, month, day, hour, minute, second = value[:6]
            with contextlib.suppress(ValueError):  # "0000-00-00": no date, not a broken feed
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return None


# -- discovery ------------------------------------------------------------------------------------
FEED_LINK_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)


# A typeless `rel=alternate` link is taken for a feed when its address says so.
_FEED_PATH = re.compile(r"(?:^|[/._-])(?:feeds?|rss\d*|atom|rdf|jsonfeed)(?:$|[/._-])|\.(?:xml|rss|atom|rdf)$", re.I)
_FEED_QUERY = re.compile(r"(?:^|&)(?:feed|format|type|output)=(?:rss|atom|rdf|xml|json)", re.I)
MAX_UNTYPED_CHECKS = 3  # typeless alternates fetched to see whether they are feeds, at most


def discover_feeds(html: bytes, page_url: str, charset: str | None = None) -> list[str]:
    """Feed URLs a home page announces, in order: `<link rel="alternate">` with a feed type, or
    without a type when the address looks like a feed (`/feed.xml`, `/rss/`, `?format=atom`)."""
    return _alternate_links(html, page_url)[0]


def _alternate_links(html: bytes, page_url: str) -> tuple[list[str], list[str]]:
    """(feeds announced, typeless alternates that may be feeds) of a page.

    A typeless alternate with `hreflang` or `media` is the page in another language or for
    another screen, never a feed; the page itself is not a candidate either.
    """
    if not html.strip():
        return [], []
    try:
        doc = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return [], []
    announced: list[str] = []
    maybe: list[str] = []
    seen: set[str] = set()  # canonical URLs: one address per feed
    base = page_url
    for node in doc.iter("base"):
        if node.get("href"):
            with contextlib.suppress(ValueError):
                base = canonicalize_url(node.get("href"), base=page_url)
            break
    for link in doc.iter("link"):
        rels = set((link.get("rel") or "").lower().split())
        ctype = (link.get("type") or "").split(";", 1)[0].strip().lower()
        href = link.get("href")
        if "alternate" not in rels or not href:
            continue
        try:
            url, address = name_and_address(href, base=base)  # asked for as written, named by `url`
        except ValueError:
            continue
        if ctype in FEED_LINK_TYPES:
            found = announced
        elif ctype or rels != {"alternate"} or link.get("hreflang") is not None or link.get("media") is not None:
            continue
        elif _looks_like_feed(url):
            found = announced
        elif url != canonicalize_url(page_url):
            found = maybe
        else:
            continue
        if url not in seen:
            seen.add(url)
            found.append(address or url)
    return announced, maybe


def _looks_like_feed(url: str) -> bool:
    parts = urlsplit(url)
    return bool(_FEED_PATH.search(parts.path) or _FEED_QUERY.search(parts.query))


def find_feeds(url: str, fetcher: PageFetcher, max_bytes: int) -> list[str]:
    """The feeds behind a URL: the URL itself if it is a feed, else those its page announces.

    When the page announces none by type or address, its typeless alternates (a few) are
    fetched, and those that parse as feeds are kept.
    """
    result = _fetch_for_discovery(request_url(url), fetcher, max_bytes)
    itself = _feed_url_of(result)
    if itself:
        return [itself]
    announced, maybe = _alternate_links(result.body, result.final_url)
    if announced:
        return announced
    confirmed: dict[str, str] = {}  # canonical URL -> the address as written
    for candidate in maybe[:MAX_UNTYPED_CHECKS]:
        try:
            feed = _feed_url_of(_fetch_for_discovery(candidate, fetcher, max_bytes))
        except NewsflowError:
            continue  # unreachable, refused or disallowed: not a feed we can poll
        if feed:
            confirmed.setdefault(canonicalize_url(feed), feed)
    return list(confirmed.values())


def _fetch_for_discovery(url: str, fetcher: PageFetcher, max_bytes: int) -> FetchResult:
    return fetcher.fetch(url, accept=FEED_ACCEPT + ", text/html;q=0.9", max_bytes=max_bytes, allowed_types=None)


def _feed_url_of(result: FetchResult) -> str | None:
    """The address a fetched feed was found at (after redirects, as written), None when the
    answer is a page or not a feed."""
    if result.content_type in ("text/html", "application/xhtml+xml"):
        return None
    try:
        parse_feed(result.body, result.final_url, result.charset)
    except PermanentError:
        return None
    return result.final_url


# -- entry identity -------------------------------------------------------------------------------
def claim_entries(
    state: StateStore, feed: FeedConfig, entries: list[FeedEntry], use_guids: bool = True
) -> tuple[list[str], list[WorkItem]]:
    """The verdict for each entry (`new`, `moved`, `seen`, `guid_changed`; see the state layer's
    claim script) and the fetch work of the new ones, recorded in the ledger in the same step."""
    if not entries:
        return [], []
    work = [fetch_entry_work(feed, e) for e in entries]
    pairs = [(url_digest(e.url), (e.guid or "")[:500] if use_guids else "") for e in entries]
    verdicts = state.feeds.claim_entries(feed.id, pairs, work)
    return verdicts, [w for w, v in zip(work, verdicts, strict=True) if v == "new"]


def fetch_entry_work(feed: FeedConfig, entry: FeedEntry) -> WorkItem:
    published = entry.published_at.isoformat() if entry.published_at else None
    return fetch_work(
        entry.url, address=entry.address, feed=feed.url, site=feed.site, language=feed.language, published=published
    )


LIAR_PROBATION = 7 * 86400.0  # seconds a feed that lied with its validators is polled without them


# -- polling --------------------------------------------------------------------------------------
@dataclass
class PollResult:
    feed: FeedConfig
    status: int
    entries: int
    new_entries: list[FeedEntry]
    outcome: str = "read"
    new_work: list[WorkItem] = field(
        default_factory=list
    )  # in the ledger already: publish these  # read, not_modified (304), unchanged (same body as last time)
    headers: dict[str, str] = field(default_factory=dict)
    parsed: ParsedFeed | None = None


def poll_feed(
    feed: FeedConfig,
    fetcher: PageFetcher,
    state: StateStore,
    max_bytes: int,
    *,
    verify_every: int = 0,
    parse: Callable[[bytes, str, str | None], ParsedFeed] = parse_feed,
    now: float | None = None,
) -> PollResult:
    """Fetch a feed (conditionally), parse it if it changed, and return the entries not seen before.

    Validators (ETag, Last-Modified) are sent unless the feed was caught lying with them; every
    `verify_every` 304s in a row the feed is fetched without them to check. A body identical to
    the last one is not parsed again. New entries are claimed in the shared seen-set, and
    their fetch work recorded in the ledger in the same step, so concurrent polls never hand
    out the same URL twice and a crash before the caller publishes them loses nothing.
    HostBusy passes through untouched: not the feed's fault.
    """
    now = time.time() if now is None else now
    prev = state.feed_state(feed.id)
    # A feed caught lying with its validators is polled without them for a while, then
    # trusted again (servers get fixed); the periodic check catches a relapse.
    caught = prev.get("validators") == "lie"
    liar = caught and now - float(prev.get("lied_at") or 0) < LIAR_PROBATION
    paroled: dict[str, Any] = {"validators": ""} if caught and not liar else {}
    streak = int(prev.get("streak_304") or 0)
    verifying = bool(verify_every) and streak >= verify_every and not liar
    headers = {}
    if not liar and not verifying:
        if prev.get("etag"):
            headers["If-None-Match"] = prev["etag"]
        if prev.get("last_modified"):
            headers["If-Modified-Since"] = prev["last_modified"]
    try:
        result = fetcher.fetch(
            feed.fetch_url, accept=FEED_ACCEPT, headers=headers, max_bytes=max_bytes, allowed_types=None
        )
    except HostBusy:
        raise
    except Exception as exc:
        record_failure(state, feed, exc, now)
        raise
    if result.status == 304:
        _record_success(state, feed, now, result, streak_304=streak + 1, **paroled)
        state.bump_feed_counter(feed.id, "polls_304")
        return PollResult(feed, 304, 0, [], outcome="not_modified", headers=result.headers)
    body_hash = hashlib.sha256(result.body).hexdigest()[:32]
    if body_hash == prev.get("body_hash"):
        _record_success(state, feed, now, result, streak_304=0, **paroled)
        state.bump_feed_counter(feed.id, "polls_unchanged")
        return PollResult(feed, result.status, 0, [], outcome="unchanged", headers=result.headers)
    try:
        parsed = parse(result.body, feed.url, result.charset)
    except PermanentError as exc:
        record_failure(state, feed, exc, now)
        raise
    entries_hash = parsed.entries_hash()
    fields: dict[str, Any] = {"body_hash": body_hash, "entries_hash": entries_hash, "kind": parsed.kind, **paroled}
    # Items the feed offered that cannot be fetched: by reason for this body, and counted over time.
    fields["items_skipped_last"] = json.dumps(parsed.skipped, sort_keys=True) if parsed.skipped else ""
    for reason, count in sorted(parsed.skipped.items()):
        state.bump_feed_counter(feed.id, f"items_skipped:{reason}", count)
        state.incr(f"feed_items_skipped:{reason}", count)
    if verifying and entries_hash != prev.get("entries_hash") and _same_validators(prev, result):
        # The server kept answering 304 to these validators while the feed changed.
        fields["validators"] = "lie"
        fields["lied_at"] = now
        state.incr("feeds_lying_validators")
    use_guids = prev.get("guids") != "unstable"
    verdicts, new_work = claim_entries(state, feed, parsed.entries, use_guids=use_guids)
    new = [e for e, v in zip(parsed.entries, verdicts, strict=True) if v == "new"]
    changed_guids = verdicts.count("guid_changed")
    if use_guids and prev.get("body_hash") and changed_guids > max(2, len(parsed.entries) // 2):
        fields["guids"] = "unstable"  # GUIDs change under known URLs: identify entries by URL only
    if new:
        fields["last_new_item"] = now
    fields.update(ttl=parsed.ttl_minutes, update_period=parsed.update_period)
    _record_success(state, feed, now, result, streak_304=0, **fields)
    state.bump_feed_counter(feed.id, "items_seen", len(new))
    return PollResult(
        feed,
        result.status,
        len(parsed.entries),
        new,
        outcome="read",
        headers=result.headers,
        parsed=parsed,
        new_work=new_work,
    )


def _same_validators(prev: dict[str, str], result: FetchResult) -> bool:
    etag = result.headers.get("etag")
    lm = result.headers.get("last-modified")
    return bool((etag and etag == prev.get("etag")) or (lm and lm == prev.get("last_modified")))


def _record_success(state: StateStore, feed: FeedConfig, now: float, result: FetchResult, **fields: Any) -> None:
    update: dict[str, Any] = {
        "last_success": now,
        "last_status": result.status,
        "consecutive_errors": 0,
        "failing_since": "",
        **fields,
    }
    if result.status != 304:
        update["etag"] = result.headers.get("etag")
        update["last_modified"] = result.headers.get("last-modified")
    state.update_feed_state(feed.id, **update)
    state.bump_feed_counter(feed.id, "polls")


def record_failure(state: StateStore, feed: FeedConfig, exc: Exception, now: float) -> int:
    """Count a failed poll in the feed's health; returns the consecutive errors so far."""
    errors = state.bump_feed_counter(feed.id, "consecutive_errors")
    state.bump_feed_counter(feed.id, "errors_total")
    fields: dict[str, Any] = {"last_error": str(exc)[:500], "last_error_at": now}
    if errors == 1:
        fields["failing_since"] = now
    state.update_feed_state(feed.id, **fields)
    return errors
