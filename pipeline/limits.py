"""Bounds on what one cleaned page may store, and the cutting that keeps a page inside them.

A hostile or broken page (a 1 MB <title>, 100,000 links, a million list items) must clean
in bounded time into a bounded document. Each bound sits far above what real pages hold:
the figure in each comment is the largest seen over the two development sets (1,171 pages
of hundreds of sites) and the golden corpus. What a bound cuts is counted, never silent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TypeVar

from lxml import etree

T = TypeVar("T")
# Nodes of every kind (text too): an upper bound of the elements, counted inside libxml2.
_COUNT_NODES = etree.XPath("count(//node())")
ELLIPSIS = "…"


@dataclass(frozen=True)
class PageLimits:
    """The most one cleaned page keeps of each field."""

    # Elements of the parsed page read at all (largest real page: about 10,000). The rest of
    # the document is cut before any search runs, so time stays bounded: the extractor's
    # time grows with the square of a page's paragraphs (4 s at 50,000, 0.7 s at 25,000).
    page_elements: int = 25_000
    # Characters of the title (longest real title: 222).
    title_chars: int = 400
    # Authors, and characters of each (at most 3 authors, 68 characters).
    authors: int = 20
    author_chars: int = 120
    # Related links kept, and characters of each link's title (at most 1,099 on a page; a
    # page listing more is an index, and the first ones are the ones near the story).
    related: int = 500
    related_title_chars: int = 300
    # Captions, and characters of each (at most 104 captions, 738 characters).
    captions: int = 200
    caption_chars: int = 1_000
    # Tags, and characters of each (at most 86 tags, 175 characters).
    tags: int = 100
    tag_chars: int = 200
    # Blocks of text considered (at most 706) and characters of the body (at most 97,668).
    blocks: int = 5_000
    body_chars: int = 400_000
    # Characters of the summary (a page's description runs up to 4,262).
    summary_chars: int = 2_000
    # Addresses (canonical URL, image, source) and short labels (site name, section).
    url_chars: int = 2_048
    label_chars: int = 200
    # Teaser blocks recorded for the audit trail (at most 380 on a page).
    teaser_blocks: int = 1_000


DEFAULT_LIMITS = PageLimits()


def cut_text(text: str, limit: int) -> tuple[str, int]:
    """`text` within `limit` characters (cut at a word, an ellipsis added) and how many were cut."""
    if len(text) <= limit:
        return text, 0
    head = text[: max(0, limit - 1)]
    space = head.rfind(" ")
    if space >= limit // 2:  # a word boundary not too far back
        head = head[:space]
    head = head.rstrip()
    return head + ELLIPSIS, len(text) - len(head)


def cut_list(items: list[T], limit: int) -> tuple[list[T], int]:
    """The first `limit` items and how many were left out."""
    return items[:limit], max(0, len(items) - limit)


def count_nodes(root: etree._Element) -> int:
    """Nodes of the document (elements, texts, comments): more than its elements, and cheap."""
    found = _COUNT_NODES(root)
    return int(found) if isinstance(found, float) else 0


def cut_tree(root: etree._Element, limit: int) -> int:
    """Cut the document after its first `limit` elements (document order); returns how many went."""
    if count_nodes(root) <= limit:
        return 0
    elements = root.iter()
    first_cut = next(itertools.islice(elements, limit, None), None)
    if first_cut is None:
        return 0
    gone = 1 + sum(1 for _ in elements)
    node = first_cut
    while node is not root:
        parent = node.getparent()
        if parent is None:
            break
        for later in list(node.itersiblings()):
            parent.remove(later)
        node = parent
    parent = first_cut.getparent()
    if parent is not None:
        parent.remove(first_cut)
    return gone
