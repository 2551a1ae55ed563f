"""A page's metadata, read from what it declares: meta tags, Open Graph, JSON-LD, <time>.

Pure: one parsed tree in, a `PageMetadata` out. Declared values come first, in this
order: Open Graph and article meta tags, then the page's JSON-LD (schema.org `Article`
and its kinds), then plain HTML (<title>, <h1>, <html lang>, <time datetime>). Nothing
is guessed from the text: a wrong date or author is worse than none.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dateutil import parser as date_parser
from htmldate import find_date
from lxml import etree
from lxml import html as lxml_html

from pipeline.teasers import text_of
from pipeline.urls import canonicalize_url, site_of

MAX_JSON_LD_CHARS = 1_000_000  # a larger script is data for the page's app, not its metadata
# schema.org types that describe the page's own story (and the page, as a last resort).
_STORY_TYPES = ("article", "posting", "report", "review", "recipe", "blog", "creativework")
MAX_BYLINE_CHARS = 80  # a longer "author" box is a biography, not a byline
_BYLINE_ELEMENTS = etree.XPath(
    "//body//*[@itemprop='author' or contains(@rel, 'author') or contains(@class, 'author')"
    " or contains(@class, 'byline') or contains(@id, 'byline')]"
)
_BY = re.compile(
    r"^((posted|written|published) by|by|(veröffentlicht |geschrieben )?von|autor:?|author:?|par|por|door|di|av|"
    r"bởi|tác giả:?|oleh)\s+",
    re.IGNORECASE,
)
_NOT_A_NAME = re.compile(r"\d|https?:|@|\b(comments?|posts?|articles?|more|all|about|profile)\b", re.IGNORECASE)
_AUTHOR_SEPARATORS = re.compile(r"\s*(?:;|,|\band\b|\bvà\b|&)\s*")


@dataclass
class PageMetadata:
    title: str = ""
    site_name: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    published_at: datetime | None = None
    authors: list[str] = field(default_factory=list)
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    description: str | None = None
    # What the page says it is: its JSON-LD @types and its og:type as "og:<type>", lower-cased.
    kinds: frozenset[str] = frozenset()


def read_metadata(root: lxml_html.HtmlElement, url: str) -> PageMetadata:
    """The metadata a parsed page declares about itself; `url` is where it was fetched."""
    metas: dict[str, str] = {}
    tags: list[str] = []
    for el in root.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        value = (el.get("content") or "").strip()
        if key and value:
            metas.setdefault(key, value)
            if key == "article:tag":
                tags.append(value)
    links: dict[str, str] = {}
    for el in root.iter("link"):
        href = (el.get("href") or "").strip()
        for rel in (el.get("rel") or "").lower().split():
            if href:
                links.setdefault(rel, href)

    def meta(*names: str) -> str | None:
        return next((metas[n] for n in names if n in metas), None)

    story, kinds = _json_ld_story(root)
    if og_type := meta("og:type"):
        kinds.add("og:" + og_type.lower())
    title = meta("og:title", "twitter:title") or _text(story.get("headline"))
    if not title:
        title_el = root.find(".//title")
        title = text_of(title_el) if title_el is not None else ""
    if not title:
        h1 = root.find(".//h1")
        title = text_of(h1) if h1 is not None else ""
    lang = root.get("lang") or meta("og:locale", "language", "content-language") or _text(story.get("inLanguage"))
    author = meta("author", "article:author", "dc.creator")
    authors = _split_authors(author if author and not author.startswith("http") else None)
    keywords = meta("keywords", "news_keywords") or ""
    tags = [t.strip() for t in keywords.split(",") if t.strip()] + tags
    if not tags:
        tags = _keywords(story.get("keywords"))
    return PageMetadata(
        title=" ".join(title.split()),
        site_name=meta("og:site_name", "application-name") or _named(story.get("publisher")),
        canonical_url=_canonical(url, links.get("canonical"), meta("og:url")),
        language=lang.replace("_", "-").split("-")[0].strip().lower() or None if lang else None,
        published_at=_published(root, url, meta, story),
        authors=authors or _people(story.get("author")) or _byline(root),
        section=meta("article:section") or _text(story.get("articleSection")),
        tags=list(dict.fromkeys(tags)),
        image=meta("og:image") or _named(story.get("image"), "url"),
        description=meta("og:description", "description") or _text(story.get("description")),
        kinds=frozenset(kinds),
    )


def _canonical(url: str, *candidates: str | None) -> str | None:
    for candidate in candidates:
        if not candidate:
            continue
        try:
            found = canonicalize_url(candidate, base=url)
        except ValueError:
            continue
        # A canonical link to another site is a claim we do not follow blindly.
        if site_of(found) == site_of(url):
            return found
    return None


def _published(root: lxml_html.HtmlElement, url: str, meta: Any, story: dict[str, Any]) -> datetime | None:
    candidates = [
        meta("article:published_time", "og:published_time", "datepublished", "pubdate", "date", "dc.date.issued"),
        _text(story.get("datePublished")),
        next((t.get("datetime") for t in root.iter("time") if t.get("datetime")), None),
    ]
    for value in candidates:
        if value:
            found = parse_date(value)
            if found:
                return found
    # Nothing declared: the dates the markup shows (htmldate, without searching the text).
    shown = find_date(root, extensive_search=False, original_date=True, url=url, outputformat="%Y-%m-%d")
    found = parse_date(shown) if shown else None
    # A bare year comes back as 1 January: that is not a publication date.
    return found if found is not None and (found.month, found.day) != (1, 1) else None


def _json_ld_story(root: lxml_html.HtmlElement) -> tuple[dict[str, Any], set[str]]:
    """The page's JSON-LD object that describes its story (an Article or one of its kinds), or
    {}; and every @type its JSON-LD names, lower-cased."""
    best: dict[str, Any] = {}
    story: dict[str, Any] | None = None
    kinds: set[str] = set()
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = script.text or ""
        if not raw.strip() or len(raw) > MAX_JSON_LD_CHARS:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue  # sites print broken JSON-LD often enough; it only ever adds
        for obj in _objects(data):
            types = obj.get("@type")
            types = types if isinstance(types, list) else [types]
            named = [k.lower() for k in types[:10] if isinstance(k, str)]
            kinds.update(named)
            names = " ".join(named)
            if story is None and any(t in names for t in _STORY_TYPES) and "headline" in obj:
                story = obj
            if not best and names == "webpage":
                best = obj
    return (story if story is not None else best), kinds


def _objects(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every JSON object of a JSON-LD document, the top ones first (through @graph and lists)."""
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data[:50]:
            yield from _objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _objects(graph, depth + 1)
        entity = data.get("mainEntity") or data.get("mainEntityOfPage")
        if isinstance(entity, dict):
            yield from _objects(entity, depth + 1)


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    return value.strip() or None if isinstance(value, str) else None


def _named(value: Any, key: str = "name") -> str | None:
    """A JSON-LD value as text: a string, or the `key` of an object; of a list, the first."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return _text(value.get(key))
    return _text(value)


def _people(value: Any) -> list[str]:
    """Names of JSON-LD authors: people first; an organisation only when no person is named."""
    values = value if isinstance(value, list) else [value]
    people = [v for v in values[:20] if not (isinstance(v, dict) and v.get("@type") == "Organization")]
    names = [_named(v) for v in people or values[:20]]
    return [n for n in names if n and not n.startswith("http")]


def _byline(root: lxml_html.HtmlElement) -> list[str]:
    """The author named by the page's byline markup (itemprop, rel or class "author"/"byline")."""
    for el in _BYLINE_ELEMENTS(root)[:20]:
        named = el.find(".//*[@itemprop='name']")
        text = _BY.sub("", text_of(named if named is not None else el)).strip(" ,|·-–—:")
        if not 3 <= len(text) <= MAX_BYLINE_CHARS or _NOT_A_NAME.search(text):
            continue
        if any("comment" in (a.get("class") or "") for a in el.iterancestors()):
            continue  # a reader's name under a comment
        return _split_authors(text)
    return []


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [v.strip() for v in value if isinstance(v, str) and v.strip()]


def parse_date(value: str) -> datetime | None:
    """A date as pages print it in their metadata (ISO 8601 first), or None."""
    try:
        parsed: datetime = date_parser.isoparse(value)
        return parsed
    except (ValueError, OverflowError):
        pass
    with warnings.catch_warnings():
        # "EST"-style zone names: dateutil warns and returns a naive time, taken as UTC.
        warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
        try:
            guessed: datetime = date_parser.parse(value)
            return guessed
        except (ValueError, OverflowError):
            return None


def _split_authors(value: str | None) -> list[str]:
    if not value:
        return []
    return [p.strip() for p in _AUTHOR_SEPARATORS.split(value) if p.strip()]
