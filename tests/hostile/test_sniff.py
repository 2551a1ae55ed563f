"""Bodies that are not HTML whatever their Content-Type says: recognised before cleaning (pure)."""

from __future__ import annotations

import gzip
import io
import random
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import Dropped
from pipeline.ingest import PageRef, ProcessDeps, process_page
from pipeline.sniff import binary_kind
from pipeline.storage import DirectoryRawStore
from tests.fetching.vietnamese import encode_cp1258
from tests.hostile.binaries import pdf, png

PAGE = "<!doctype html><html><head><title>Lễ hội</title></head><body><p>{}</p></body></html>"
TEXT = "Người dân nô nức trẩy hội mùa xuân, chính quyền thân thiện với người dân. " * 40


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("report.txt", TEXT)
    return out.getvalue()


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (pdf(), "PDF"),
        (png(), "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 20, "JPEG"),
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00" * 30, "GIF"),
        (_zip(), "ZIP"),
        (gzip.compress(TEXT.encode()), "gzip"),
        (b"\n\n  %PDF-1.4\n" + b"\x00" * 10, "PDF"),  # leading blank lines, as some servers send
        (random.Random(3).randbytes(20_000), "control bytes"),
        (b"<html><body>" + b"\x00\x01\x02\x03" * 500 + b"</body></html>", "control bytes"),
    ],
    ids=["pdf", "png", "jpeg", "gif", "zip", "gzip", "pdf-after-blanks", "random", "nul-padded-html"],
)
def test_binary_bodies_are_named(body: bytes, what: str) -> None:
    """A file format's magic number, or a body full of control bytes, is recognised and named."""
    kind = binary_kind(body)
    assert kind is not None and what in kind


def test_bytes_undecodable_in_the_declared_charset_are_not_text() -> None:
    """Bytes that the declared UTF-8 rejects, one in two, without control bytes: not a page."""
    body = bytes(random.Random(5).choice(range(0x80, 0x100)) for _ in range(4000))
    kind = binary_kind(body, "utf-8")
    assert kind is not None and "undecodable" in kind


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        (PAGE.format(TEXT).encode(), None),
        (PAGE.format(TEXT).encode(), "utf-8"),
        (encode_cp1258(PAGE.format(TEXT)), "windows-1258"),
        (encode_cp1258(PAGE.format(TEXT)), None),  # legacy bytes, charset left to detection
        (PAGE.format(TEXT).encode("utf-16"), None),  # a byte-order mark, NULs everywhere
        (PAGE.format(TEXT).encode("utf-16-le"), None),  # no mark at all
        (PAGE.format(TEXT).encode("utf-16-be"), "utf-16be"),
        (b"\xef\xbb\xbf" + PAGE.format(TEXT).encode(), None),
        (b"", None),
        (TEXT.encode(), None),  # plain text, no markup
    ],
    ids=[
        "utf8",
        "utf8-declared",
        "cp1258",
        "cp1258-undeclared",
        "utf16-bom",
        "utf16le",
        "utf16be",
        "bom",
        "empty",
        "text",
    ],
)
def test_html_and_text_in_any_encoding_pass(body: bytes, charset: str | None) -> None:
    """Pages in UTF-8, legacy single-byte and UTF-16 encodings (with or without a mark) are text."""
    assert binary_kind(body, charset) is None


def test_the_fixture_pages_are_all_text() -> None:
    """Every page the tests serve as a site passes (no false alarm on real markup)."""
    pages = list((Path(__file__).resolve().parents[1] / "fixtures" / "sites").rglob("*.html"))
    assert pages
    assert [p.name for p in pages if binary_kind(p.read_bytes()) is not None] == []


@given(st.binary(max_size=2000), st.sampled_from([None, "utf-8", "windows-1252", "utf-16", "no-such-charset"]))
def test_sniffing_never_raises(body: bytes, charset: str | None) -> None:
    """Any bytes with any declared charset get an answer, never an exception."""
    assert binary_kind(body, charset) is None or isinstance(binary_kind(body, charset), str)


def test_process_drops_a_pdf_labelled_html_before_cleaning(tmp_path: Path) -> None:
    """The process step drops a binary body as `not_html`, naming what it is, instead of cleaning it."""
    store = DirectoryRawStore(tmp_path / "raw")
    ref = store.put(pdf())
    page = PageRef(url="http://news.example/report", final_url="http://news.example/report", ref=ref, fetched_at="")
    with pytest.raises(Dropped) as caught:
        process_page(page, ProcessDeps(store=store))
    assert caught.value.reason == "not_html"
    assert "PDF" in str(caught.value)


def test_a_byte_order_mark_alone_is_no_binary() -> None:
    """A UTF-16 body of only its byte-order mark decodes to nothing: text, not a file type."""
    assert binary_kind("".encode("utf-16")) is None
