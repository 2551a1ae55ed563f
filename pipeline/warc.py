"""Raw pages as WARC (ISO 28500), the format web archives and news archivists keep pages in.

newsflow stores each page's body only, not the HTTP exchange, so every `response` record
carries a reconstructed `200 OK` head (Content-Type, and the charset when known); the
`warcinfo` record at the start of the file says so.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

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
