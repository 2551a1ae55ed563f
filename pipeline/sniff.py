"""What a body really is, whatever its Content-Type says: HTML or text, or a binary file.

Servers label PDFs, images and archives `text/html`; cleaned as HTML they become articles of
binary junk. `binary_kind` looks at the bytes themselves: a file format's magic number at the
start, then the share of NUL and control bytes, then the share of bytes the page's own
encoding cannot decode. Pure: bytes in, a short description (or None for text) out.
"""

from __future__ import annotations

import codecs
import re

from pipeline.charset import codec_for

SAMPLE = 64 * 1024  # bytes looked at: a binary file shows what it is long before this
CONTROL_SHARE = 0.05  # text has next to no control bytes; random or packed data has ~12%
UNDECODABLE_SHARE = 0.3  # bytes the declared (or UTF-8) decoder rejects

# (prefix, what it is). Checked at the very start, after any leading whitespace.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"(\xb5/\xfd", "zstd-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document"),
    (b"%!PS", "a PostScript document"),
    (b"\x7fELF", "an executable"),
    (b"\x00asm", "a WebAssembly module"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 file"),
    (b"fLaC", "a FLAC audio file"),
    (b"wOFF", "a web font"),
    (b"wOF2", "a web font"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)
# RIFF containers and ISO media name their kind a few bytes in.
RIFF_KINDS = {b"WEBP": "a WebP image", b"WAVE": "a WAV audio file", b"AVI ": "an AVI video"}
# Encodings whose text is full of NUL bytes: judged once decoded.
WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_MARKUP = re.compile(rb"<[A-Za-z!/?]")
# Control bytes that text does not use (tab, newlines, form feed and escape are text).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27)) + b"\x7f"


def binary_kind(body: bytes, charset: str | None = None) -> str | None:
    """What `body` is when it is not HTML or text ("a PDF document", ...); None for text.

    `charset`: the encoding the server declared, used to judge undecodable bytes."""
    sample = body[:SAMPLE]
    head = sample.lstrip(b" \t\r\n")
    for prefix, what in MAGIC:
        if head.startswith(prefix):
            return what
    if head[:4] == b"RIFF" and head[8:12] in RIFF_KINDS:
        return RIFF_KINDS[head[8:12]]
    if head[4:8] == b"ftyp":
        return "an MP4 or QuickTime media file"
    if not sample:
        return None
    wide = _wide_encoding(sample, charset)
    if wide is not None:
        sample = sample.decode(wide, errors="replace").encode("utf-8")
        if not sample:  # a byte-order mark and nothing after it
            return None
    controls = len(sample) - len(sample.translate(None, _CONTROL))
    if controls / len(sample) > CONTROL_SHARE:
        return f"binary data ({controls / len(sample):.0%} control bytes)"
    # Without a declared charset the cleaner detects one, so bytes that are not UTF-8 only
    # count against a body without any markup.
    if wide is None and (_codec(charset) or not _MARKUP.search(sample)):
        undecodable = _undecodable_share(sample, charset)
        if undecodable > UNDECODABLE_SHARE:
            return f"binary data ({undecodable:.0%} of its bytes undecodable as {_codec(charset) or 'utf-8'})"
    return None


def _wide_encoding(sample: bytes, charset: str | None) -> str | None:
    """UTF-16 or UTF-32, when a byte-order mark or the declared charset says so."""
    for bom in WIDE_BOMS:
        if sample.startswith(bom):
            return "utf-32" if len(bom) == 4 else "utf-16"
    name = _codec(charset)
    if name and name.startswith(("utf-16", "utf-32")):
        return name
    # UTF-16 without a mark: ASCII markup with a NUL after (or before) every character.
    even, odd = sample[0:2048:2], sample[1:2048:2]
    if len(odd) >= 16:
        if odd.count(0) > 0.6 * len(odd) and even.count(0) < 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.6 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "utf-16-be"
    return None


def _codec(charset: str | None) -> str | None:
    """The declared charset's codec as a browser reads the label; None for none, an unknown
    label, or a Python codec that is no page's charset ("base64", "undefined")."""
    return codec_for(charset) if charset else None


def _undecodable_share(sample: bytes, charset: str | None) -> float:
    """The share of bytes that the declared charset (UTF-8 when none or unknown) cannot decode."""
    name = _codec(charset) or "utf-8"
    # The sample may end inside a character: the last few bytes are not held against it.
    text = sample[: len(sample) - 4] if len(sample) > 64 else sample
    decoded = text.decode(name, errors="replace")
    return decoded.count("\ufffd") / max(1, len(text))
