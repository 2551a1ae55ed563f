"""Raw pages as WARC (ISO 28500), the format web archives and news archivists keep pages in.

newsflow stores each page's body only, not the HTTP exchange, so every `response` record
carries a reconstructed `200 OK` head (Content-Type, and the charset when known); the
`warcinfo` record at the start of the file says so.

`read_warc` reads WARC files back (`newsflow import`): every record with where it starts and
ends in the file, so a reader cut short can go on from the record it stopped at, and the
page body of each `response` that is an HTML page with a 200 status; every other record
carries the reason it is no page to clean.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, iso_date_to_datetime
from warcio.warcwriter import WARCWriter

from pipeline.errors import PermanentError

SOFTWARE = "newsflow"


@dataclass(frozen=True)
class ArchivedPage:
    url: str
    fetched_at: datetime
    body: bytes
    charset: str | None = None


def write_warc(out: BinaryIO, pages: Iterable[ArchivedPage], *, filename: str, compress: bool = True) -> int:
    """Write a warcinfo record, then one `response` record per page; return the pages written.

    With `compress`, each record is a gzip member of its own (`.warc.gz`), as readers expect."""
    writer = WARCWriter(out, gzip=compress)
    info = {
        "software": SOFTWARE,
        "format": "WARC File Format 1.1",
        "description": "Pages fetched by newsflow. Bodies are as fetched; the HTTP status line and"
        " headers of each response are reconstructed (200 OK, Content-Type), not recorded.",
    }
    writer.write_record(writer.create_warcinfo_record(filename, info))
    written = 0
    for page in pages:
        content_type = "text/html" + (f"; charset={page.charset}" if page.charset else "")
        head = StatusAndHeaders(
            "200 OK",
            [("Content-Type", content_type), ("Content-Length", str(len(page.body)))],
            protocol="HTTP/1.1",
        )
        fetched = page.fetched_at if page.fetched_at.tzinfo else page.fetched_at.replace(tzinfo=UTC)
        record = writer.create_warc_record(
            page.url,
            "response",
            payload=io.BytesIO(page.body),
            length=len(page.body),
            http_headers=head,
            warc_headers_dict={"WARC-Date": datetime_to_iso_date(fetched.astimezone(UTC).replace(tzinfo=None))},
        )
        writer.write_record(record)
        written += 1
    return written


HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class WarcRecord:
    """One record read from a WARC file: where it starts and where the next one starts, and
    either a page to clean (`body`) or why it is none (`skip`: `request`, `metadata`,
    `revisit`, `redirect`, `status:404`, `not_html`, `too_large`, a filter's reason...)."""

    start: int
    end: int
    url: str
    date: datetime | None
    body: bytes | None = None
    charset: str | None = None
    skip: str | None = None


def read_warc(
    fh: BinaryIO,
    *,
    start: int = 0,
    max_bytes: int = 5 * 1024 * 1024,
    accept: Callable[[str, datetime | None], str | None] | None = None,
    where: str = "WARC file",
) -> Iterator[WarcRecord]:
    """Every record of a WARC (or `.warc.gz`, compressed per record) from offset `start`.

    `accept(url, date)` returns a reason to skip a page before its body is read (filters by
    site and date cost no decompression of the body). A file that is no WARC, or broken at
    some offset, raises PermanentError naming `where` and the offset.
    """
    # In an uncompressed file a record's length leaves out the blank lines that close it.
    fh.seek(start)
    head = fh.read(8)
    fh.seek(start + len(head) - len(head.lstrip(b"\r\n")))
    records = ArchiveIterator(fh, ensure_http_headers=False)
    offset = start
    try:
        for record in _each(records):
            if record.format != "warc":  # warcio reads most lines of text as an ARC record
                raise ArchiveLoadFailed(f"a record of {record.format or 'no known'} format, not WARC")
            found = _read_record(record, max_bytes, accept)
            begin, length = records.get_record_offset(), records.get_record_length()
            offset = begin + length
            yield WarcRecord(start=begin, end=offset, **found)
    except ArchiveLoadFailed as exc:
        raise PermanentError(f"{where}: not a readable WARC record at byte {offset}: {_first_line(exc)}") from None
    except (OSError, EOFError, ValueError) as exc:
        raise PermanentError(f"{where}: broken at byte {offset} ({type(exc).__name__}: {exc})") from None
    size = fh.seek(0, io.SEEK_END)
    fh.seek(offset)
    # warcio ends quietly at a record cut short (a download that stopped); what may follow the
    # last whole record is only the blank lines that close it in an uncompressed file.
    if offset < size and (size - offset > 64 or fh.read(64).strip()):
        left = size - offset
        raise PermanentError(f"{where}: cut short: {left} byte(s) after the last whole record, at byte {offset}")


def _each(records: ArchiveIterator) -> Iterator[Any]:
    """warcio's records; a record whose headers warcio trips over (a response with no
    WARC-Target-URI raises AttributeError inside it) is a record it cannot read."""
    it = iter(records)
    while True:
        try:
            record = next(it)
        except StopIteration:
            return
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            raise ArchiveLoadFailed(f"malformed record headers ({type(exc).__name__} in warcio)") from None
        yield record


def _read_record(
    record: Any, max_bytes: int, accept: Callable[[str, datetime | None], str | None] | None
) -> dict[str, Any]:
    headers = record.rec_headers
    url = (headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    date = _warc_date(headers.get_header("WARC-Date"))
    found: dict[str, Any] = {"url": url, "date": date}
    if record.rec_type != "response":
        return {**found, "skip": record.rec_type or "unknown"}
    http = record.http_headers
    if http is None or not url.lower().startswith(("http://", "https://")):
        return {**found, "skip": "not_http"}
    status = http.get_statuscode() or ""
    if status != "200":
        return {**found, "skip": "redirect" if status.startswith("3") else f"status:{status or 'none'}"}
    content_type = (http.get_header("Content-Type") or "").lower()
    mime = content_type.split(";", 1)[0].strip()
    if mime not in HTML_TYPES:
        return {**found, "skip": "not_html"}
    reason = accept(url, date) if accept is not None else None
    if reason:
        return {**found, "skip": reason}
    # The payload decoded of its transfer and content encodings (chunked, gzip), as fetched.
    body = record.content_stream().read(max_bytes + 1)
    if len(body) > max_bytes:
        return {**found, "skip": "too_large"}
    return {**found, "body": body, "charset": _charset(content_type)}


def _warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        stamp: datetime = iso_date_to_datetime(value.strip())
        return stamp.replace(tzinfo=UTC)
    except ValueError:
        return None


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip() == "charset" and value.strip().strip("\"'"):
            return value.strip().strip("\"'")
    return None


def _first_line(exc: Exception, limit: int = 160) -> str:
    """warcio's complaint in one short line: it quotes the bytes it met, binary ones too."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
    shown = "".join(c if c.isprintable() else "?" for c in line[:limit])
    return shown + ("…" if len(line) > limit else "")
