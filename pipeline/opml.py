"""OPML import and export of the feed list (the format feed readers trade subscriptions in)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lxml import etree

from pipeline.feeds import FeedConfig

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def read_opml(data: bytes) -> list[FeedConfig]:
    """Every `<outline xmlUrl=...>` of an OPML document, nested folders included, in order.

    The outline's `text`/`title` becomes the site name, `language` (when present) the language.
    Raises ValueError for what is not OPML or declares XML entities.
    """
    if _ENTITY_DECL.search(data):
        raise ValueError("OPML declares XML entities; refused (entity expansion attack?)")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not OPML: malformed XML ({exc})") from None
    if root is None or root.tag != "opml":
        raise ValueError("not OPML: the root element is not <opml>")
    feeds: list[FeedConfig] = []
    seen: set[str] = set()
    for node in root.iter("outline"):
        url = node.get("xmlUrl") or node.get("xmlurl")
        if not url:
            continue
        try:
            feed = FeedConfig(
                url=url.strip(),
                site=(node.get("text") or node.get("title") or "").strip() or None,
                language=node.get("language") or None,
            )
        except ValueError:
            continue  # not an http(s) feed
        if feed.id not in seen:
            seen.add(feed.id)
            feeds.append(feed)
    return feeds


def write_opml(feeds: list[FeedConfig], title: str = "newsflow feeds") -> bytes:
    """An OPML 2.0 document listing the feeds (site name as text, language kept)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = etree.SubElement(root, "body")
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.site_name, "title": feed.site_name, "xmlUrl": feed.fetch_url}
        if feed.language:
            attrs["language"] = feed.language
        etree.SubElement(body, "outline", attrs)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
