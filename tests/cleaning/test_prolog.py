"""Whatever precedes a page's first element, the page parses as a browser renders it. Pure code."""

from __future__ import annotations

import codecs

import pytest

from pipeline.charset import decode_html
from pipeline.cleaning import clean_page
from pipeline.errors import Dropped
from pipeline.prolog import neutralize_prolog
from tests.fuzz.strategies import BROKEN_DECLARATION

URL = "https://riverside-courier.example/news/2008/07/harbour-lights-return-for-the-summer.html"
TITLE = "Harbour lights return for the summer"
PARAS = [
    "The strings of coloured lights along the harbour wall were switched on again on Friday evening.",
    "Volunteers spent three weekends replacing the bulbs that the winter storms had broken.",
    "The lights will stay on every night until the end of September, the harbour master said.",
]


def page(prolog: str = "") -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    return (
        f"{prolog}<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{TITLE}</title></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><h1>{TITLE}</h1>{paras}</article></body></html>"
    ).encode()


def assert_article(body: bytes) -> None:
    cleaned = clean_page(body, URL)
    for para in PARAS:
        assert para in cleaned.body
    assert cleaned.title == TITLE
    assert cleaned.language == "en"  # the <html lang> after the declaration still counts


def test_an_unterminated_declaration_with_a_garbage_encoding_keeps_its_article() -> None:
    """The page that was dead-lettered ("Unicode strings with encoding declaration"): cleaned to its story."""
    assert len(BROKEN_DECLARATION) > 800
    assert_article(page(BROKEN_DECLARATION + "\n"))


@pytest.mark.parametrize(
    "prolog",
    [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<?xml version="1.0" encoding="x-no-such-charset"?>',
        "<?xml version='1.0' encoding='ilashack, necessarily' ?>",
        '<?xml version="1.0" encoding="utf-8"',  # cut off: ends at the doctype's `>`, as in a browser
        '<?xml version="1.0" encoding="utf-8"?><?xml version="1.0" encoding="utf-8"?>\n',
        '\n\n   <?xml version="1.0" encoding="windows-1252"?>',
        '<!-- generated --><?xml version="1.0" encoding="utf-8"?>',
        '<?XML VERSION="1.0" ENCODING="UTF-8"?>',
        '<?php echo $header; ?><?xml encoding="utf-8"?>',
        f"{BROKEN_DECLARATION}{BROKEN_DECLARATION}",
    ],
)
def test_any_declaration_in_the_prolog_is_neutralised(prolog: str) -> None:
    """Well formed, unknown encoding, unterminated, repeated, upper case, after space or a comment: same article."""
    assert_article(page(prolog))


@pytest.mark.parametrize("bom", [codecs.BOM_UTF8, codecs.BOM_UTF8 * 2])
def test_a_declaration_after_a_byte_order_mark_is_neutralised(bom: bytes) -> None:
    """The mark decides the codec; the declaration after it is left out all the same."""
    assert_article(bom + page(BROKEN_DECLARATION))


def test_a_declaration_after_the_doctype_is_neutralised() -> None:
    """Some templates print the doctype first: the declaration after it goes too."""
    body = page().replace(b"<!DOCTYPE html>", b"<!DOCTYPE html>" + BROKEN_DECLARATION.encode(), 1)
    assert_article(body)


def test_only_the_declarations_leave_a_page_that_opens_with_its_html_tag() -> None:
    """The decoded text keeps every other character: doctype, comments, the <html lang> tag."""
    text = decode_html(b'<?xml version="1.0"?>\n<!-- a --><!DOCTYPE html>\n<html lang="vi"><p>x</p></html>')
    assert text == '\n<!-- a --><!DOCTYPE html>\n<html lang="vi"><p>x</p></html>'


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"  \r\n\t",
        b'<?xml version="1.0" encoding="utf-8"?>',
        b"<!DOCTYPE html>",
        b"<!-- nothing but a comment -->",
        b"<!-- a comment that never ends <p>text</p>",
        b"</div></body></html>",
        b"<html lang='en",  # the root tag cut off: no element at all
        b'<?xml version="1.0" encoding="utf-8" <html><body><p>All in a comment',
        b"<?>\xef\xbb\xbf<?><!-- a comment that never ends <html><p>text</p>",  # the mark left first, then skipped
        codecs.BOM_UTF16_LE + "   ".encode("utf-16-le"),
    ],
)
def test_a_page_with_no_element_is_dropped_as_empty_not_unparseable(body: bytes) -> None:
    """An empty page is no article (Dropped), as a browser shows an empty page; never "cannot be parsed"."""
    with pytest.raises(Dropped) as dropped:
        clean_page(body, URL)
    assert dropped.value.reason == "no_text"


def test_nothing_but_nul_bytes_is_no_html() -> None:
    """Bytes that are all NUL are no page at all: dropped as not HTML, never "cannot be parsed"."""
    with pytest.raises(Dropped) as dropped:
        clean_page(b"\x00\x00", URL)
    assert dropped.value.reason == "not_html"


def test_non_characters_are_left_out_and_do_not_lose_the_story() -> None:
    """U+FFFF in the text made lxml refuse what the extractor built: the whole article was lost."""
    paras = "".join(f"<p>{p}\uffff</p>" for p in PARAS)
    body = f"<html><body><article><h1>{TITLE}</h1>{paras}<p>Note\ufffe.</p></article></body></html>"
    cleaned = clean_page(body.encode(), URL)
    for para in PARAS:
        assert para in cleaned.body
    assert "\uffff" not in cleaned.body + cleaned.title


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<?xml version="1.0"?><html lang="fr"><p>a</p>', '<html lang="fr"><p>a</p>'),
        ("<p>a</p>", "<p>a</p>"),  # no <html> tag: the parser makes its own, nothing is added
        ("text only", "text only"),
        ("<!-- x -->", "<html><!-- x -->"),
        ("<html x='>'>", "<html x='>'>"),  # a `>` inside a quoted value does not end the tag
        ("<html x='a", "<html><html x='a"),
        ('<?xml encoding="x" <p>a</p>', "a</p>"),  # a `<?` runs to the first `>`, as in a browser
        ('<?xml encoding="x"', "<html>"),
    ],
)
def test_the_prolog_is_read_as_the_html_tokenizer_reads_it(text: str, expected: str) -> None:
    """Declarations out; `<html>` first only where the parser would otherwise make no element."""
    assert neutralize_prolog(text) == expected
