"""Teaser blocks recognised by their structure inside one page.

A teaser block is a run of repeated items, each led by a link to another article of the
same site whose anchor text is the item's title, often with a short excerpt. Headings such
as "Cùng chủ đề" or "Related" are not needed: the structure decides. A lone short paragraph
that is mostly a link to another article ("Read more: ...") is an inline teaser.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html

from pipeline.models import RelatedLink
from pipeline.urls import canonicalize_url, site_of

CONTAINER_TAGS = {"ul", "ol", "div", "section", "aside", "nav", "table", "tbody", "footer", "dl"}
MAX_ITEM_CHARS = 900  # a teaser item is a title and an excerpt, never a whole story
MIN_TITLE_CHARS = 12
HEADING_MAX_CHARS = 80
HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "header", "strong", "b", "span", "div", "p"}
_ARTICLE_SEGMENT = re.compile(r"(\d{4,}|[^/]*-[^/]*-[^/]*|\.s?html?$|\.php$|\.aspx?$)")
_SPACE = re.compile(r"\s+")
# Pages about people, tags and sections: their links are bylines and menus, not teasers.
_NOT_ARTICLE_PATH = re.compile(
    r"/(author|authors|autor|tac-gia|tag|tags|topic|topics|chu-de|category|categories|section|sections|"
    r"people|profile|profiles|user|users|search|contributor|contributors|staff|writer|writers)(/|$)",
    re.IGNORECASE,
)


@dataclass
class TeaserBlock:
    element: lxml_html.HtmlElement
    links: list[RelatedLink] = field(default_factory=list)
    text: str = ""
    kind: str = "list"  # "list" or "inline"


def text_of(el: lxml_html.HtmlElement) -> str:
    # Join text nodes with spaces: "<h3>Title</h3><p>Excerpt" must not read "TitleExcerpt".
    return _SPACE.sub(" ", " ".join(el.itertext())).strip()


@functools.lru_cache(maxsize=8192)
def is_article_link(href: str, page_url: str, page_site: str) -> str | None:
    """Canonical URL of `href` when it points to another article of the page's site."""
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
        return None
    try:
        url = canonicalize_url(urljoin(page_url, href))
    except ValueError:
        return None
    if site_of(url) != page_site or url == page_url:
        return None
    path = urlsplit(url).path.rstrip("/")
    if _NOT_ARTICLE_PATH.search(path):
        return None
    # Some segment reads like an article: a slug of 3+ words, an id, or a page file name.
    # (The slug is not always last: /news/some-story-title/live/.)
    if not any(_ARTICLE_SEGMENT.search(seg) for seg in path.split("/") if seg):
        return None
    return url


def _article_anchor(el: lxml_html.HtmlElement, page_url: str, page_site: str) -> tuple[str, str] | None:
    """The first link in `el` to another article, with its anchor text."""
    anchors = [el] if el.tag == "a" else el.iter("a")
    first: tuple[str, str] | None = None
    for a in anchors:
        url = is_article_link(a.get("href", ""), page_url, page_site)
        if not url:
            continue
        title = text_of(a) or (a.get("title") or "").strip()
        # An image link often comes first with no text; the title link follows it.
        if len(title) >= MIN_TITLE_CHARS:
            return url, title
        first = first or (url, title)
    return first


def _group_items(
    children: list[lxml_html.HtmlElement], page_url: str, page_site: str
) -> tuple[list[tuple[str, str, str]], int, int]:
    """Group siblings into items, each starting at a child led by an article link.

    Returns (items as (url, title, text)), characters covered by items, characters before
    the first item (a heading, if short).
    """
    items: list[tuple[str, str, str]] = []
    lead_chars = covered = 0
    for child in children:
        if not isinstance(child.tag, str):
            continue
        text = text_of(child)
        found = _article_anchor(child, page_url, page_site)
        # The link must be the child's title (leading it, or most of it), not words of prose,
        # and the child one story, not a whole list of them.
        if (
            found
            and len(found[1]) >= MIN_TITLE_CHARS
            and _leads(found[1], text)
            and not _many_stories(child, page_url, page_site)
        ):
            items.append((found[0], found[1], text))
            covered += len(text)
        elif items:
            url, title, prev = items[-1]
            items[-1] = (url, title, f"{prev} {text}".strip())
            covered += len(text)
        else:
            lead_chars += len(text)
    return items, covered, lead_chars


def _leads(title: str, text: str) -> bool:
    at = text.find(title)
    return 0 <= at <= 40 or len(title) >= 0.5 * len(text)


def _is_teaser_list(el: lxml_html.HtmlElement, page_url: str, page_site: str) -> TeaserBlock | None:
    children = [c for c in el if isinstance(c.tag, str)]
    # Look through single wrappers (<div><ul>...</ul></div>) to the repeated level, unless
    # the single child is itself one teaser item (a rail that holds one story so far).
    while len(children) == 1 and not _is_item(children[0], page_url, page_site):
        children = [c for c in children[0] if isinstance(c.tag, str)]
    if not children:
        return None
    items, covered, lead = _group_items(children, page_url, page_site)
    if not items or lead > HEADING_MAX_CHARS:
        return None
    # One item is a teaser block only when it is framed as one: a list, or under a heading.
    if len(items) == 1 and not (lead > 0 or el.tag in {"ul", "ol"} or len(children) == 1):
        return None
    if len(items) > 1 and len({url for url, _, _ in items}) < 2:
        return None
    if any(len(text) > MAX_ITEM_CHARS for _, _, text in items):
        return None
    total = len(text_of(el))
    if total == 0 or covered < 0.8 * (total - lead):
        return None
    links = [RelatedLink(url=url, title=title) for url, title, _ in items]
    return TeaserBlock(element=el, links=links, text=text_of(el))


def _many_stories(el: lxml_html.HtmlElement, page_url: str, page_site: str) -> bool:
    """True when `el` links, with titles, to more than one other article."""
    urls = set()
    for a in el.iter("a"):
        url = is_article_link(a.get("href", ""), page_url, page_site)
        if url and len(text_of(a)) >= MIN_TITLE_CHARS:
            urls.add(url)
            if len(urls) > 1:
                return True
    return False


def _is_item(el: lxml_html.HtmlElement, page_url: str, page_site: str) -> bool:
    """One teaser item: a short element led by a titled link to another article."""
    text = text_of(el)
    if not text or len(text) > MAX_ITEM_CHARS:
        return False
    found = _article_anchor(el, page_url, page_site)
    return bool(
        found
        and len(found[1]) >= MIN_TITLE_CHARS
        and _leads(found[1], text)
        and not _many_stories(el, page_url, page_site)
    )


def _is_inline_teaser(el: lxml_html.HtmlElement, page_url: str, page_site: str) -> TeaserBlock | None:
    if el.tag == "a":
        # A link standing alone between paragraphs ("Also on ...: <title>"), not one in prose.
        parent = el.getparent()
        if parent is None or parent.tag not in {"div", "section", "article", "main", "body", "aside"}:
            return None
        if (el.tail or "").strip():
            return None
    elif el.tag not in {"p", "div", "li", "h3", "h4", "strong"} or len(el) > 4:
        return None
    text = text_of(el)
    if not text or len(text) > 220:
        return None
    found = _article_anchor(el, page_url, page_site)
    if not found or len(found[1]) < 0.6 * len(text):
        return None
    return TeaserBlock(element=el, links=[RelatedLink(url=found[0], title=found[1])], text=text, kind="inline")


def find_teaser_blocks(root: lxml_html.HtmlElement, page_url: str) -> list[TeaserBlock]:
    """Teaser blocks of a page, outermost first; nested matches are not reported twice."""
    page_site = site_of(page_url)
    found: list[TeaserBlock] = []
    body = root.find("body")
    stack = [body if body is not None else root]
    while stack:
        el = stack.pop()
        if not isinstance(el.tag, str) or el.tag in {"script", "style", "head"}:
            continue
        block = None
        if el.tag in CONTAINER_TAGS:
            block = _is_teaser_list(el, page_url, page_site)
        if block is None:
            block = _is_inline_teaser(el, page_url, page_site)
        if block is not None:
            found.append(block)
            continue
        stack.extend(reversed([c for c in el if isinstance(c.tag, str)]))
    return found


def remove_teasers(
    root: lxml_html.HtmlElement, page_url: str, blocks: list[TeaserBlock] | None = None
) -> list[TeaserBlock]:
    """Cut teaser blocks (and the short heading right before each) out of the tree."""
    if blocks is None:
        blocks = find_teaser_blocks(root, page_url)
    for block in blocks:
        el = block.element
        prev = el.getprevious()
        if block.kind == "list" and _is_heading(prev):
            block.text = f"{text_of(prev)} {block.text}"
            _drop(prev)
        parent = el.getparent()
        _drop(el)
        # A wrapper left holding nothing but a heading was part of the teaser block too.
        while parent is not None and parent.tag not in {"body", "html", "main", "article"}:
            if len(text_of(parent)) > HEADING_MAX_CHARS or parent.findall(".//img"):
                break
            grand = parent.getparent()
            if text_of(parent):
                block.text = f"{text_of(parent)} {block.text}"
            _drop(parent)
            parent = grand
    return blocks


def _is_heading(el: lxml_html.HtmlElement | None) -> bool:
    """A short title-like element: the "Related" or "Cùng chủ đề" above a teaser list."""
    if el is None or not isinstance(el.tag, str) or el.tag not in HEADING_TAGS:
        return False
    text = text_of(el)
    if not 0 < len(text) <= HEADING_MAX_CHARS or el.findall(".//p"):
        return False
    # A short sentence of the article is not a heading: headings rarely end like sentences.
    return el.tag in {"h1", "h2", "h3", "h4", "h5", "h6"} or not text.endswith((".", "!", "?", '"', "”", "»"))


def _drop(el: lxml_html.HtmlElement) -> None:
    # drop_tree keeps the element's tail text in the document.
    if el.getparent() is not None:
        el.drop_tree()
