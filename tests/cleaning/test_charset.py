"""Decoding pages and feeds: one place, the browsers' order of evidence. Pure code."""

from __future__ import annotations

import codecs

import pytest

from pipeline.charset import codec_for, decode_html, decode_xml
from pipeline.cleaning import clean_page

URL = "https://journal-des-vallees.example/region/la-fete-du-village-revient-en-juin-2024.html"
PARAS = [
    "La fête du village revient en juin, après deux années d’absence, avec un marché et un bal.",
    "Les élus ont voté à l’unanimité le budget de l’événement, financé en partie par les commerçants.",
    "« Nous attendons plus de trois mille visiteurs », a déclaré la maire devant le conseil réuni.",
]


def xhtml_page(encoding: str) -> str:
    """An old XHTML page as such sites print it: the XML declaration before the doctype."""
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" lang="fr"><head><title>La fête du village</title></head>'
        f"<body><div id='contenu'><h1>La fête du village</h1>{paras}</div></body></html>"
    )


@pytest.mark.parametrize(("label", "codec"), [("iso-8859-1", "cp1252"), ("utf-8", "utf-8"), ("windows-1252", "cp1252")])
def test_a_page_opening_with_an_xml_declaration_cleans_like_any_page(label: str, codec: str) -> None:
    """The declaration names the encoding; the page decodes by it once and cleans to its text."""
    cleaned = clean_page(xhtml_page(label).encode(codec), URL)
    for para in PARAS:
        assert para in cleaned.body
    assert cleaned.title == "La fête du village"


def test_the_xml_declaration_is_read_and_left_out_of_the_text() -> None:
    """Without a header, the declaration decides the codec (’ is byte 0x92 in Windows-1252)."""
    text = decode_html(xhtml_page("iso-8859-1").encode("cp1252"))
    assert "d’absence" in text
    assert "<?xml" not in text
    assert text.lstrip().startswith("<!DOCTYPE")


def test_nul_bytes_are_dropped_not_turned_into_replacement_characters() -> None:
    """A NUL inside a word leaves the word whole; no U+FFFD reaches the body."""
    broken = [p.replace("village", "vil\x00lage") for p in PARAS]
    paras = "".join(f"<p>{p}</p>" for p in broken)
    raw = f"<html><body><article>\x00{paras}</article></body></html>".encode()
    cleaned = clean_page(raw, URL)
    assert "\ufffd" not in cleaned.body
    assert "\x00" not in cleaned.body
    assert "La fête du village revient" in cleaned.body


def test_a_control_character_in_the_text_does_not_lose_the_story() -> None:
    """A BEL in a footnote made the extractor give up on the whole page (lxml refuses it in new text)."""
    paras = "".join(f"<p>{p}</p>" for p in PARAS) + "<p>Source : rapport annuel\x07 (2020),\x07 page 12.</p>"
    raw = f"<html><body><article>{paras}</article></body></html>"
    cleaned = clean_page(raw.encode(), URL)
    for para in PARAS:
        assert para in cleaned.body


def test_a_byte_order_mark_outranks_every_label() -> None:
    """UTF-16 with its mark decodes as UTF-16 even when the header says otherwise."""
    raw = codecs.BOM_UTF16_LE + "<p>Grüße aus Köln</p>".encode("utf-16-le")
    assert decode_html(raw, "iso-8859-1") == "<p>Grüße aus Köln</p>"


def test_the_header_outranks_the_page_and_the_page_outranks_detection() -> None:
    """HTTP header first, then <meta charset>; both as browsers read the labels."""
    raw = '<meta charset="windows-1251"><p>Привет, Straße</p>'.encode("cp1251", "replace")
    assert "Привет" in decode_html(raw)
    both = '<meta charset="utf-8"><p>Ça va, Gérard ?</p>'.encode("cp1252")
    assert "Ça va, Gérard ?" in decode_html(both, "iso-8859-1")


def test_a_page_claiming_utf16_in_ascii_is_read_as_utf8() -> None:
    """A <meta> readable as ASCII cannot be UTF-16: the page is UTF-8 (what browsers do)."""
    raw = '<meta charset="utf-16"><p>Tiếng Việt có dấu</p>'.encode()
    assert "Tiếng Việt có dấu" in decode_html(raw)


def test_feeds_read_their_xml_declaration() -> None:
    """An XML document in windows-1258 decodes by its declaration, to composed (NFC) text."""
    # Windows-1258 has "ê" but not "ế": the tone mark follows as a character of its own.
    raw = '<?xml version="1.0" encoding="windows-1258"?><rss><title>Đà Lạt, Huê\u0301</title></rss>'
    raw = raw.replace("ạ", "a\u0323").encode("cp1258")
    assert "Đà Lạt, Huế" in decode_xml(raw)
    assert decode_xml(raw).startswith("<?xml")  # an XML parser still wants it


@pytest.mark.parametrize(
    ("label", "codec"),
    [("ISO-8859-1", "cp1252"), (" latin1 ", "cp1252"), ("'GB2312'", "gb18030"), ("utf8", "utf-8"), ("bogus", None)],
)
def test_labels_are_read_as_browsers_read_them(label: str, codec: str | None) -> None:
    """Common labels name the wider code page browsers use; an unknown label is None."""
    assert codec_for(label) == codec
