"""A last resort for pages the extractor gives up on: the page's densest block of prose.

An extractor tuned for modern markup sometimes returns nothing on an old table layout, a
page of <br>-separated text, or a site whose article sits in an unusual container. A page
with a long article must not then be dropped as empty. This picks the one element that
holds the most prose directly (its own text and its paragraph children), skipping what is
never the article (navigation, forms, asides, comments), and reads its paragraphs.
"""

from __future__ import annotations

import re

from lxml import html as lxml_html

from pipeline.teasers import text_of

MIN_FALLBACK_CHARS = 500  # less than this is not "a long article"; the page stays dropped
MIN_PARAGRAPH_CHARS = 25  # shorter pieces inside the winner are labels and links, not prose
_PARAGRAPHS = {"p", "blockquote", "h2", "h3", "h4", "li", "pre", "font", "span"}
_NEVER = {"nav", "header", "footer", "aside", "form", "script", "style", "noscript", "select", "button", "menu"}
# Ancestors that rule a block out. Not <aside> or <header>: some sites set the whole story in one.
_NEVER_INSIDE = {"nav", "footer", "form", "noscript", "select", "menu"}
_NOT_ARTICLE = re.compile(r"comment|menu|nav|footer|sidebar|widget|cookie|related|share", re.IGNORECASE)
MAX_LINK_SHARE = 0.5  # a block mostly made of link text is a list of links


def fallback_paragraphs(root: lxml_html.HtmlElement) -> list[str]:
    """The paragraphs of the page's densest block of prose, or [] when it holds too little."""
    body = root.find("body")
    best: tuple[int, list[str]] = (0, [])
    for el in (body if body is not None else root).iter():
        if not isinstance(el.tag, str) or el.tag in _NEVER or el.tag in _PARAGRAPHS:
            continue
        if _NOT_ARTICLE.search(f"{el.get('class') or ''} {el.get('id') or ''}") or _inside_never(el):
            continue
        pieces = _prose_of(el)
        chars = sum(len(p) for p in pieces)
        if chars > best[0]:
            best = (chars, pieces)
    return best[1] if best[0] >= MIN_FALLBACK_CHARS else []


def _prose_of(el: lxml_html.HtmlElement) -> list[str]:
    """The prose `el` holds directly: its own text runs (between <br>s) and its paragraph children."""
    pieces: list[str] = []
    run: list[str] = [el.text or ""]
    for child in el:
        if not isinstance(child.tag, str):
            run.append(child.tail or "")
            continue
        if child.tag in _PARAGRAPHS or child.tag in {"a", "b", "strong", "em", "i", "u"}:
            if child.tag in _PARAGRAPHS:
                _flush(run, pieces)
                run = []
                text = text_of(child)
                linked = sum(len(text_of(a)) for a in child.iter("a"))
                if len(text) >= MIN_PARAGRAPH_CHARS and linked <= MAX_LINK_SHARE * len(text):
                    pieces.append(text)
            else:
                run.append(text_of(child))
        elif child.tag == "br":
            _flush(run, pieces)
            run = []
        run.append(child.tail or "")
    _flush(run, pieces)
    return pieces


def _flush(run: list[str], pieces: list[str]) -> None:
    text = " ".join(" ".join(run).split())
    if len(text) >= MIN_PARAGRAPH_CHARS:
        pieces.append(text)


def _inside_never(el: lxml_html.HtmlElement) -> bool:
    return any(a.tag in _NEVER_INSIDE for a in el.iterancestors())
