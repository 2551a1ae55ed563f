"""A parsed page cut into text blocks, in reading order.

A block is the text a reader sees as one piece: the inline text of one block-level element
(a paragraph, a list item, a table cell, a heading), up to the next block-level element
inside it, or up to a blank line made of two `<br>`s (old table layouts set a whole story
in one cell that way). Each block keeps what the classifier needs of its place: its
element, the links it holds, the class and id words of its ancestors, and landmarks
(`<article>`, `<nav>`, `<footer>` ...) it sits in. One walk over the tree, in C where lxml
allows it (`iterwalk`); the text is joined once per block.
"""

from __future__ import annotations

import functools
import re
import zlib
from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lxml_html

# Text no reader sees, or controls that carry no prose.
SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas", "select",
     "option", "textarea", "button", "input", "head", "title", "video", "audio", "map"}
)  # fmt: skip
BLOCK_TAGS = frozenset(
    {"html", "body", "p", "div", "section", "article", "main", "aside", "header", "footer", "nav", "li", "ul", "ol",
     "dl", "dt", "dd", "table", "tbody", "thead", "tfoot", "tr", "td", "th", "caption", "h1", "h2", "h3", "h4", "h5",
     "h6", "blockquote", "pre", "figure", "figcaption", "form", "fieldset", "address", "hr", "center", "details",
     "summary", "menu", "hgroup", "legend", "picture"}
)  # fmt: skip
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Landmarks a block can sit in, one bit each.
LANDMARKS = {
    "article": 1,
    "main": 2,
    "nav": 4,
    "header": 8,
    "footer": 16,
    "aside": 32,
    "li": 64,
    "table": 128,
    "form": 256,
    "blockquote": 512,
    "figure": 1024,
}
# Words of class and id names, one bit per family, found in any language's templates.
_CLASS_WORDS: list[tuple[int, re.Pattern[str]]] = [
    (1, re.compile(r"content|article|story|post|entry|body|text|main|detail|news-?body|chi-?tiet|noi-?dung|artikel")),
    (2, re.compile(r"nav|menu|breadcrumb|header|masthead|topbar|toolbar|pagination|pager|skip")),
    (4, re.compile(r"footer|copyright|bottom|legal|colophon")),
    (8, re.compile(r"side|widget|rail|aside|column|col-(md|lg|sm)-[1-4]\b")),
    (
        16,
        re.compile(
            r"relat|recommend|more|popular|trending|teaser|latest|read-?next|also|similar|suggest|promo|"
            r"lien-?quan|cung-?chu-?de|tin-?moi|most|other|feature|card|list|grid|tile|thumb|outbrain|taboola"
        ),
    ),
    (
        32,
        re.compile(
            r"share|social|comment|newsletter|subscri|cookie|consent|gdpr|ad-|ads|advert|sponsor|banner|paywall"
        ),
    ),
    (64, re.compile(r"byline|author|date|time|meta|tag|caption|credit|published|dateline")),
    (128, re.compile(r"hidden|sr-only|visually-hidden|screen-reader|offscreen|modal|popup|overlay")),
    (256, re.compile(r"comment|reply|respond|discussion|disqus|discourse|forum|review|testimonial|binh-?luan")),
]
CLASS_FAMILIES = len(_CLASS_WORDS)
# Each word of a class or id name also sets one of TOKEN_BUCKETS bits (above the families'
# bits), by a hash that is the same in every process: the trees learn which words matter.
TOKEN_BUCKETS = 64
TOKEN_SHIFT = 16
_NAME_WORDS = re.compile(r"[a-z]+")
_WS = re.compile(r"\s+")


@dataclass(slots=True)
class TextBlock:
    """One block of a page: its text and where it stands."""

    text: str
    element: lxml_html.HtmlElement  # the block-level element whose inline text this is
    link_chars: int  # characters of the text inside links
    links: list[str]  # hrefs of the links it holds, in order
    depth: int  # block-level ancestors
    landmarks: int  # LANDMARKS bits of its ancestors and itself
    classes: int  # _CLASS_WORDS bits of its ancestors' class and id names
    own_classes: int  # the same, of its own element and its parent only
    index: int = 0
    chars: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _class_bits(el: lxml_html.HtmlElement) -> int:
    attrib = el.attrib
    if "class" not in attrib and "id" not in attrib:
        return 0
    return _name_bits(f"{attrib.get('class') or ''} {attrib.get('id') or ''}")


@functools.lru_cache(maxsize=8192)
def _name_bits(names: str) -> int:
    """The family and word bits of one element's class and id names (pages repeat them)."""
    names = names.lower()
    bits = 0
    for bit, pattern in _CLASS_WORDS:
        if pattern.search(names):
            bits |= bit
    for word in _NAME_WORDS.findall(names):
        if len(word) > 2:
            bits |= 1 << (TOKEN_SHIFT + zlib.crc32(word.encode()) % TOKEN_BUCKETS)
    return bits


_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def _hidden(el: lxml_html.HtmlElement) -> bool:
    """Markup no reader sees: `hidden`, `aria-hidden`, an inline style that hides it."""
    attrib = el.attrib
    if not attrib:
        return False
    if "hidden" in attrib or attrib.get("aria-hidden") == "true":
        return True
    style = attrib.get("style")
    return style is not None and _HIDDEN_STYLE.search(style) is not None


class _Open:
    """A block-level element being walked, with what its blocks inherit."""

    __slots__ = ("classes", "depth", "element", "landmarks", "link_chars", "links", "own", "pieces")

    def __init__(self, element: lxml_html.HtmlElement, depth: int, landmarks: int, classes: int, own: int) -> None:
        self.element = element
        self.depth = depth
        self.landmarks = landmarks
        self.classes = classes
        self.own = own
        self.pieces: list[str] = []
        self.link_chars = 0
        self.links: list[str] = []


def cut_blocks(root: lxml_html.HtmlElement, max_blocks: int = 5000) -> list[TextBlock]:
    """The page's text blocks in reading order (at most `max_blocks`)."""
    out: list[TextBlock] = []
    body = root.find("body")
    start = body if body is not None else root
    stack: list[_Open] = []
    in_link = 0
    skipping: etree._Element | None = None

    def flush(cur: _Open) -> None:
        if not cur.pieces:
            return
        text = _WS.sub(" ", "".join(cur.pieces)).strip()
        if text and len(out) < max_blocks:
            out.append(
                TextBlock(
                    text,
                    cur.element,
                    cur.link_chars,
                    cur.links,
                    cur.depth,
                    cur.landmarks,
                    cur.classes,
                    cur.own | (stack[-2].own if len(stack) > 1 and stack[-1] is cur else 0),
                )
            )
        cur.pieces = []
        cur.link_chars = 0
        cur.links = []

    def add(text: str | None) -> None:
        if text and stack:
            cur = stack[-1]
            cur.pieces.append(text)
            if in_link:
                cur.link_chars += len(text.strip())

    walker = etree.iterwalk(start, events=("start", "end"))
    for event, el in walker:
        tag = el.tag
        if not isinstance(tag, str):
            if event == "end":
                add(el.tail)
            continue
        if event == "start":
            if skipping is not None:
                continue
            if tag in SKIP_TAGS or _hidden(el):
                skipping = el
                walker.skip_subtree()
                continue
            if tag in BLOCK_TAGS:
                parent = stack[-1] if stack else None
                if parent is not None:
                    flush(parent)
                own = _class_bits(el)
                stack.append(
                    _Open(
                        el,
                        parent.depth + 1 if parent else 0,
                        (parent.landmarks if parent else 0) | LANDMARKS.get(tag, 0),
                        (parent.classes if parent else 0) | own,
                        own,
                    )
                )
            elif tag == "br":
                cur = stack[-1] if stack else None
                if cur is not None:
                    # Two <br> with nothing but blanks between them end a paragraph.
                    if cur.pieces and cur.pieces[-1] == "\n":
                        cur.pieces.pop()
                        flush(cur)
                    elif cur.pieces and cur.pieces[-1].strip():
                        cur.pieces.append("\n")
                continue
            elif tag == "a":
                in_link += 1
                href = el.get("href")
                if href and stack:
                    stack[-1].links.append(href)
            elif tag == "img" and stack:
                continue
            add(el.text)
        else:
            if skipping is not None:
                if el is not skipping:
                    continue
                skipping = None
                add(el.tail)
                continue
            if tag in BLOCK_TAGS:
                if stack and stack[-1].element is el:
                    flush(stack.pop())
                if stack:
                    flush_tail = el.tail
                    if flush_tail and flush_tail.strip():
                        add(flush_tail)
                continue
            if tag == "a":
                in_link = max(0, in_link - 1)
            if tag != "br" or (el.tail and el.tail.strip()):
                add(el.tail)
    while stack:
        flush(stack.pop())
    total = 0
    for i, b in enumerate(out):
        b.index = i
        b.chars = len(b.text)
        total += b.chars
    return out
