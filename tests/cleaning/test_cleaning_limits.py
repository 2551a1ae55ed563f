"""Hostile pages: every stored field of a cleaned page is bounded, and what was cut is said. Pure code."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cleaning import CleanedPage, clean_page
from pipeline.errors import Dropped, PermanentError
from pipeline.limits import DEFAULT_LIMITS, PageLimits, cut_text, cut_tree
from pipeline.teasers import MAX_PAGE_LINKS

URL = "https://riverside-courier.example/news/council-backs-the-new-footbridge-2025-4411.html"
STORY = [
    "The council voted on Tuesday to fund a new footbridge over the river, ending two years of argument.",
    "Work is due to start in the spring and should take eighteen months, the council's engineer said.",
    "Residents on both banks had asked for a crossing since the old ferry stopped running in 2019.",
]


def hostile(after_story: str = "", head: str = "", title: str = "Council backs the new footbridge") -> bytes:
    """A short real story, then whatever a hostile page adds."""
    paras = "".join(f"<p>{p}</p>" for p in STORY)
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>{title}</title>{head}</head>"
        f"<body><article><h1>Council backs the new footbridge</h1>{paras}</article>{after_story}</body></html>"
    ).encode()


def assert_story_kept(cleaned: CleanedPage) -> None:
    for para in STORY:
        assert para in cleaned.body


def test_a_megabyte_title_is_cut_and_the_cut_is_said() -> None:
    """A 1 MB <title> leaves at most the title bound, with an ellipsis, and the characters cut are counted."""
    cleaned = clean_page(hostile(title="Footbridge " * 100_000), URL)
    assert len(cleaned.title) <= DEFAULT_LIMITS.title_chars
    assert cleaned.title.endswith("…")
    assert cleaned.truncated["title_chars"] > 1_000_000 - DEFAULT_LIMITS.title_chars - 20
    assert cleaned.removed_counts()["cut:title_chars"] == cleaned.truncated["title_chars"]
    assert_story_kept(cleaned)


def test_a_page_of_many_thousand_links_keeps_a_bounded_list_of_related_links() -> None:
    """Past the links read per page and the related links kept, the rest is counted, not stored."""
    n = MAX_PAGE_LINKS + 3_000
    links = "".join(
        f'<li><a href="/news/story-number-{i}-of-the-day.html">Story number {i} of the day</a></li>' for i in range(n)
    )
    cleaned = clean_page(hostile(f"<ul>{links}</ul>"), URL)
    assert len(cleaned.related) == DEFAULT_LIMITS.related
    assert cleaned.truncated["links_unread"] == 3_000
    assert cleaned.truncated["related"] > 0
    assert_story_kept(cleaned)


def test_a_page_past_the_element_bound_is_cut_after_it() -> None:
    """The story at the top stays; the elements past the bound are never read, and counted."""
    rows = "".join(f"<tr><td>Row {i}</td><td>{i * 7}</td></tr>" for i in range(2_000))
    cleaned = clean_page(hostile(f"<table>{rows}</table>"), URL, limits=PageLimits(page_elements=400))
    assert "Row 1999" not in cleaned.body
    assert cleaned.truncated["page_elements"] > 3_000
    assert_story_kept(cleaned)


def test_the_body_is_cut_at_its_bound_between_blocks() -> None:
    """Blocks past the body bound leave as `over_limit`; a block that straddles it is cut."""
    more = "".join(
        f"<p>Paragraph {i} of the council's long report on the bridge and its costs.</p>" for i in range(200)
    )
    page = hostile().replace(b"</article>", more.encode() + b"</article>")  # the story's own long tail
    cleaned = clean_page(page, URL, limits=PageLimits(body_chars=1_000))
    assert len(cleaned.body) <= 1_000
    assert "over_limit" in {b.reason for b in cleaned.blocks}
    assert cleaned.removed_counts()["over_limit"] > 100


@pytest.mark.parametrize("where", ["before", "after"])
def test_thousands_of_removed_blocks_never_take_the_body(where: str) -> None:
    """Past the block bound, the blocks cut are removed ones: the story stays, wherever the
    removed blocks stand (a menu of 400 section links before it or after it)."""
    menu = "<ul>" + "".join(f"<li><a href='/section-{i}/'>Section {i}</a></li>" for i in range(400)) + "</ul>"
    page = hostile(menu) if where == "after" else hostile().replace(b"<body>", f"<body>{menu}".encode())
    cleaned = clean_page(page, URL, limits=PageLimits(blocks=100))
    assert len(cleaned.blocks) == 100
    assert cleaned.truncated["blocks"] > 0
    assert_story_kept(cleaned)


def test_authors_tags_captions_and_addresses_are_bounded() -> None:
    """Huge meta fields and thousands of captions come out within their bounds, each cut counted."""
    head = (
        f'<meta name="author" content="{"Ann Lee " * 50_000}">'
        f'<meta name="keywords" content="{",".join(f"bridge{i}" for i in range(5_000))}">'
        f'<meta property="og:image" content="https://riverside-courier.example/{"x" * 5_000}.jpg">'
        f'<meta property="og:site_name" content="{"Courier " * 1_000}">'
    )
    figures = "".join(
        f'<figure><img src="/p{i}.jpg"><figcaption>The river bank at dawn, picture {i}</figcaption></figure>'
        for i in range(1_000)
    )
    cleaned = clean_page(hostile(f"<div>{figures}</div>", head=head), URL)
    limits = DEFAULT_LIMITS
    assert all(len(a) <= limits.author_chars for a in cleaned.authors)
    assert len(cleaned.tags) == limits.tags
    assert len(cleaned.captions) == limits.captions
    assert cleaned.image is None
    assert cleaned.site_name is not None and len(cleaned.site_name) <= limits.label_chars
    assert {"author_chars", "tags", "captions", "image", "site_name_chars"} <= set(cleaned.truncated)
    assert_story_kept(cleaned)


def test_an_ordinary_page_cuts_nothing() -> None:
    """Bounds sit far above real pages: a plain story records no cut."""
    cleaned = clean_page(hostile(), URL)
    assert cleaned.truncated == {}
    assert not any(k.startswith("cut:") for k in cleaned.removed_counts())


def test_cut_text_cuts_at_a_word_and_counts() -> None:
    """The cut keeps whole words within the bound and says how many characters went."""
    text, cut = cut_text("one two three four five six", 12)
    assert text == "one two…"
    assert len(text) <= 12
    assert cut == len("one two three four five six") - len("one two")
    assert cut_text("short", 12) == ("short", 0)


def test_cut_tree_keeps_the_first_elements_in_document_order() -> None:
    """Everything from the first element past the bound onwards leaves the tree."""
    from lxml import html as lxml_html

    root = lxml_html.document_fromstring("<html><body><div><p>a</p><p>b</p></div><p>c</p><p>d</p></body></html>")
    assert cut_tree(root, 5) == 2  # html, body, div, p(a), p(b) stay; p(c), p(d) go
    assert [p.text for p in root.iter("p")] == ["a", "b"]
    assert cut_tree(root, 5) == 0


# Pieces of markup a hostile page strings together, with text and raw bytes between them.
FRAGMENTS = [
    '<?xml version="1.0" encoding="iso-8859-1"?>',
    '<?xml version="1.0" encoding="bogus-8"?>',
    '<meta charset="utf-16">',
    '<meta charset="windows-1258">',
    "<!DOCTYPE html>",
    "<html>",
    "<body>",
    "<article>",
    "<p>",
    "</p>",
    "<figure><figcaption>",
    "</figcaption></figure>",
    '<a href="/news/another-story-of-the-day-2025.html">',
    '<a href="javascript:alert(1)">',
    '<a href="http://[::1">',
    "</a>",
    "<ul><li>",
    "</li></ul>",
    "<title>",
    "</title>",
    '<link rel="canonical" href="//">',
    '<meta property="article:published_time" content="99999-99-99T99:99">',
    "<script>",
    "<![CDATA[",
    "<!--",
    "\x00",
    "\ufeff",
    STORY[0],
]


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=40)), max_size=60),
    st.sampled_from(["utf-8", "cp1252", "utf-16", "cp1258", "latin-1"]),
    st.binary(max_size=40),
)
def test_any_mix_of_markup_and_bytes_cleans_or_is_dropped_within_bounds(
    pieces: list[str], encoding: str, junk: bytes
) -> None:
    """Whatever the bytes: a bounded cleaned page, Dropped or PermanentError; never another exception."""
    raw = "".join(pieces).encode(encoding, "replace") + junk
    with contextlib.suppress(Dropped, PermanentError):
        cleaned = clean_page(raw, URL)
        assert len(cleaned.title) <= DEFAULT_LIMITS.title_chars
        assert len(cleaned.body) <= DEFAULT_LIMITS.body_chars
        assert "\x00" not in cleaned.body + cleaned.title


def test_a_story_nested_hundreds_of_boxes_deep_is_read() -> None:
    """libxml2 reads 256 levels unless told otherwise: a story inside 600 `<div>`s (a page
    builder's, or unclosed tags) is read whole, and one past the parser's 2,048 levels is
    refused as such, not dropped as a page without text."""

    def nested(depth: int) -> bytes:
        paras = "".join(f"<p>{p}</p>" for p in STORY)
        return (
            "<!DOCTYPE html><html lang='en'><head><title>Council backs the new footbridge</title></head><body>"
            + "<div>" * depth
            + f"<h1>Council backs the new footbridge</h1>{paras}"
            + "</div>" * depth
            + "</body></html>"
        ).encode()

    cleaned = clean_page(nested(600), URL)
    assert all(p in cleaned.body for p in STORY)
    with pytest.raises(PermanentError, match="nested more than 2,048 elements deep"):
        clean_page(nested(3000), URL)
