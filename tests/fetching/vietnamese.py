"""Vietnamese text in windows-1258, the way legacy Vietnamese sites wrote it."""

from __future__ import annotations

import unicodedata


def encode_cp1258(text: str) -> bytes:
    """Encode NFC text to windows-1258: a precomposed vowel where the code page has one, tone marks combining.

    Python's cp1258 codec maps byte to character one to one, so it cannot encode "ệ" itself.
    """
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        for i, mark in enumerate(marks):
            composed = unicodedata.normalize("NFC", base + mark)
            try:
                head = composed.encode("cp1258")
            except UnicodeEncodeError:
                continue
            rest = marks[:i] + marks[i + 1 :]
            out += head + "".join(rest).encode("cp1258")
            break
        else:
            out += (base + "".join(marks)).encode("cp1258")
    return bytes(out)
