"""Bytes to text, once, for every kind of document newsflow reads (pages and feeds).

The order of evidence is the one browsers and feed readers use: a byte-order mark, then the
HTTP header's charset, then what the document says of itself (an HTML `<meta charset>`, an
XML declaration's `encoding`), then UTF-8, then statistical detection. Labels are read as
browsers read them (`iso-8859-1` is Windows-1252, `gb2312` is GB18030, ...). The result is
NFC: legacy Vietnamese encodings store tone marks as separate characters.

The text comes back without what only mattered for decoding: the byte-order mark, and for
HTML every XML declaration of its prolog, whatever its shape (lxml refuses a decoded string
that still declares an encoding; see `pipeline.prolog`, which also gives a page without any
element its `<html>`), and the characters XML forbids: control characters and U+FFFE/U+FFFF
(the parser turns a NUL into U+FFFD, which would reach the body, and lxml refuses the others
in any text the extractor builds: one BEL lost a whole article).
"""

from __future__ import annotations

import codecs
import re
import unicodedata

import charset_normalizer

from pipeline.prolog import neutralize_prolog

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']\s*([A-Za-z0-9._:-]+)\s*["'][^>]*\?>""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its mark starts the same way
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_WIDE = ("utf-16", "utf-32")
_PYTHON_ONLY_CODECS = frozenset({"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "charmap"})
_CHAR_REFERENCE = re.compile(r"&#(?:[xX]0*([0-9A-Fa-f]+)|0*([0-9]+));?")
PRESCAN_BYTES = 4096  # where a page's own charset declaration is looked for
# C0 control characters other than tab and line ends, and the two non-characters XML forbids:
# no text holds them, and lxml either turns them into U+FFFD (NUL) or refuses them in new
# text, so the extractor gives up.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]+")
_LEFT_FOR_THE_REGEX = ("\x1b", "\ufffe", "\uffff")  # what deleting control bytes cannot remove
_CONTROL_BYTES = bytes(c for c in range(32) if chr(c) not in "\t\n\r\x1b")
# Labels that browsers read as a wider code page than the one Python names so.
_BROWSER_LABELS = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "windows-1252": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "big5": "big5hkscs",
}


def codec_for(label: str) -> str | None:
    """Python's codec for a charset label as a browser reads it; None for an unknown label."""
    label = label.strip().strip("\"'").strip().lower()
    try:
        info = codecs.lookup(_BROWSER_LABELS.get(label, label))
    except (LookupError, ValueError):  # ValueError: a label with a NUL in it
        return None
    # Python's own codecs are no page's charset: bytes-to-bytes ("base64"), escapes, IDNA, "undefined".
    return info.name if info._is_text_encoding and info.name not in _PYTHON_ONLY_CODECS else None


def decode_html(body: bytes, header_charset: str | None = None) -> str:
    """An HTML page's bytes as NFC text: BOM, header, `<meta charset>`, XML declaration, UTF-8, detection.

    The text is ready for the HTML parser: XML declarations and the characters XML forbids are
    left out, and a page without an element gets an `<html>` (`pipeline.prolog`).
    """
    head = body[:PRESCAN_BYTES]
    declared = [m.group(1) for m in (_META_CHARSET.search(head), _XML_ENCODING.match(head)) if m]
    # A declaration readable as ASCII cannot be right about UTF-16 or UTF-32 (browsers agree).
    own = ["utf-8" if (codec_for(d.decode("ascii")) or "").startswith(_WIDE) else d.decode("ascii") for d in declared]
    wide = (codec_for(header_charset or "") or "").startswith(_WIDE) or head.count(0) > len(head) // 8
    if not wide:
        # In every byte-oriented encoding those bytes are those characters (ISO-2022's escape
        # excepted, kept): deleting bytes is a hundred times faster than a regex over text.
        body = body.translate(None, _CONTROL_BYTES)
    text = _decode(body, header_charset, own)
    text = text.lstrip("\ufeff")
    if wide or any(c in text for c in _LEFT_FOR_THE_REGEX):
        text = _CONTROLS.sub("", text)
    if "&#" in text:  # the parser would turn `&#65534;` into the character itself
        text = _CHAR_REFERENCE.sub(lambda ref: _xml_reference(ref, ""), text)
    return neutralize_prolog(text)


def decode_xml(body: bytes, header_charset: str | None = None) -> str:
    """An XML document's bytes (a feed, a sitemap) as NFC text: BOM, header, XML declaration, UTF-8, detection.

    The characters XML forbids are left out, and a reference to one (`&#xD800;`, `&#0;`) reads as
    U+FFFD: the parsers that recover from broken XML keep them, and then raise or give back
    bytes nobody can decode.
    """
    m = _XML_ENCODING.match(body[:1024])
    text = _CONTROLS.sub("", _decode(body, header_charset, [m.group(1).decode("ascii")] if m else []))
    return _CHAR_REFERENCE.sub(_xml_reference, text) if "&#" in text else text


def _xml_reference(ref: re.Match[str], forbidden: str = "&#xFFFD;") -> str:
    """The reference, or `forbidden` in its place when it names a character XML does not allow."""
    hex_digits, digits = ref.group(1), ref.group(2)
    if len(hex_digits or digits or "") > 8:
        return forbidden  # past U+10FFFF, however it is written
    code = int(hex_digits, 16) if hex_digits else int(digits or "0")
    allowed = code in (0x9, 0xA, 0xD) or 0x20 <= code < 0xD800 or 0xE000 <= code < 0xFFFE or 0x10000 <= code < 0x110000
    return ref.group(0) if allowed else forbidden


def _decode(body: bytes, header_charset: str | None, declared: list[str]) -> str:
    candidates: list[str] = []
    for bom, name in _BOMS:
        if body.startswith(bom):
            body = body[len(bom) :]
            candidates.append(name)  # a byte-order mark outranks every label
            break
    if header_charset:
        candidates.append(header_charset)
    candidates += [*declared, "utf-8"]
    for label in candidates:
        codec = codec_for(label)
        if codec is None:
            continue
        try:
            return unicodedata.normalize("NFC", body.decode(codec))
        except (UnicodeError, LookupError):  # LookupError: a codec of bytes, not text ("base64")
            continue  # UnicodeError besides decoding: codecs that never decode ("undefined", "idna")
    best = charset_normalizer.from_bytes(body).best()
    text = str(best) if best is not None else body.decode("utf-8", "replace")
    return unicodedata.normalize("NFC", text)
