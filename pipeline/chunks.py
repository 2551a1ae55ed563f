"""An article body split into chunks, with advertising between them.

Some sites print one story as several sibling containers of the same kind, an advert
between each two (`<div class="body">...</div><div class="ad">Advertisement</div>
<div class="body">...</div>`). An extractor that picks the single best container then
keeps the first chunk and loses the rest. Once the extractor has chosen, the chunks it
left out are easy to recognise: siblings of its container, of the same tag and class,
holding paragraphs, with nothing but short filler between them.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

from lxml import html as lxml_html

from pipeline.teasers import text_of

MAX_LEVELS = 4  # how far above the extracted paragraphs the repeated container may sit
MAX_FILLER_CHARS = 120  # text allowed between two chunks ("Advertisement", "Story continues")
MIN_CHUNK_CHARS = 200
MIN_PARAGRAPHS = 2  # of MIN_PARAGRAPH_CHARS or more
MIN_PARAGRAPH_CHARS = 80
MAX_LINK_SHARE = 0.3
_TEXT_TAGS = ("p", "h2", "h3", "h4", "li", "blockquote")
_NOT_BODY = {"figure", "figcaption", "aside", "nav", "footer", "form", "header", "script", "style"}
_STORY_MARKS = ("h1", "header", "time", "article")


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


def missing_chunks(root: lxml_html.HtmlElement, extracted: list[str]) -> tuple[list[str], list[str]]:
    """Texts of the chunks the extractor left out: (before its text, after its text).

    `extracted` are the extractor's text lines. Returns two empty lists when the page has
    no such chunks, which is the case for nearly every page.
    """
    wanted = {_norm(t) for t in extracted if len(t) >= 40}
    if not wanted:
        return [], []
    found = [p for p in root.iter("p") if _norm(text_of(p)) in wanted]
    if not found:
        return [], []
    # The container the extractor read: the parent holding most of its paragraphs.
    parents = Counter(p.getparent() for p in found if p.getparent() is not None)
    if not parents:
        return [], []
    container = parents.most_common(1)[0][0]
    seen = set(found)
    el = container
    for _ in range(MAX_LEVELS):
        parent = el.getparent()
        if parent is None or el.tag in {"body", "html"}:
            break
        before = _chunks(el, seen, forward=False)
        after = _chunks(el, seen, forward=True)
        if before or after:
            return [t for chunk in reversed(before) for t in chunk], [t for chunk in after for t in chunk]
        el = parent
    return [], []


def _chunks(el: lxml_html.HtmlElement, seen: set[lxml_html.HtmlElement], *, forward: bool) -> list[list[str]]:
    """Texts of the same-kind siblings of `el` in one direction, nearest first, as long as
    only short filler stands between them."""
    kind = (el.tag, (el.get("class") or "").strip())
    if not kind[1]:
        return []  # an unnamed <div> repeats everywhere: too weak a sign
    out: list[list[str]] = []
    filler: int | None = None  # characters of the elements since the last chunk; None: no element yet
    sibling = el.getnext() if forward else el.getprevious()
    while sibling is not None:
        if isinstance(sibling.tag, str):
            if (sibling.tag, (sibling.get("class") or "").strip()) == kind:
                # Something (an advert slot) must stand between two chunks: same-kind
                # blocks side by side are a page's sections (an "about us" box, a bio).
                texts = _chunk_texts(sibling, seen) if filler is not None else None
                if texts is None:
                    break
                out.append(texts)
                filler = None
            else:
                filler = (filler or 0) + len(text_of(sibling))
                if filler > MAX_FILLER_CHARS:
                    break
        sibling = sibling.getnext() if forward else sibling.getprevious()
    return out


def _chunk_texts(chunk: lxml_html.HtmlElement, seen: set[lxml_html.HtmlElement]) -> list[str] | None:
    """The paragraphs of one chunk, or None when it does not read as more of the story
    (another headline, mostly links, too little text, or text already extracted)."""
    if chunk.tag == "article" or any(chunk.find(f".//{tag}") is not None for tag in _STORY_MARKS):
        return None  # the next story of an endless page (its headline, its date), not more of this one
    texts: list[str] = []
    for el in chunk.iter(_TEXT_TAGS):
        if el in seen:
            return None
        if _nested(el, chunk):
            continue
        text = text_of(el)
        if text:
            texts.append(text)
    total = sum(len(t) for t in texts)
    # More of a story is prose: several full paragraphs, not a box with a line or two.
    paragraphs = [t for el in chunk.iter("p") if len(t := text_of(el)) >= MIN_PARAGRAPH_CHARS]
    if total < MIN_CHUNK_CHARS or len(paragraphs) < MIN_PARAGRAPHS:
        return None
    linked = sum(len(text_of(a)) for a in chunk.iter("a"))
    if linked > MAX_LINK_SHARE * total:
        return None
    return texts


def _nested(el: lxml_html.HtmlElement, chunk: lxml_html.HtmlElement) -> bool:
    """True when `el` sits in a figure, an aside or the like, or inside another text
    element (its text is read with that element's)."""
    parent = el.getparent()
    while parent is not None and parent is not chunk:
        if parent.tag in _NOT_BODY or parent.tag in _TEXT_TAGS:
            return True
        parent = parent.getparent()
    return False
