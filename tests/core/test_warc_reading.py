"""Reading WARC files back: which records are pages to clean, why the others are not, and
going on from the offset a reader stopped at. Files written here with warcio; no services."""

from __future__ import annotations

import gzip
import io
import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.errors import PermanentError
from pipeline.importing import ImportFilters, find_sources
from pipeline.warc import ArchivedPage, read_warc, write_warc
from tests.faults import harness

PAGE = b"<html><head><title>Ferry</title></head><body><p>The ferry ran late again.</p></body></html>"


def sites(n: int = 2, articles: int = 12) -> list[harness.Site]:
    out = harness.make_sites(n, articles)
    for i, site in enumerate(out):
        site.base = f"http://site{i}.example"
    return out


def test_only_html_pages_with_a_200_are_read_and_every_other_record_says_why(tmp_path: Path) -> None:
    """Requests, metadata, a redirect, a 404 and an image are skipped by reason; pages carry body and date."""
    path = tmp_path / "crawl.warc.gz"
    pages = harness.write_archive(sites(), path)
    with path.open("rb") as fh:
        records = list(read_warc(fh))
    read = [r for r in records if r.skip is None]
    assert len(read) == pages == 12
    skipped: dict[str, int] = {}
    for r in records:
        if r.skip:
            skipped[r.skip] = skipped.get(r.skip, 0) + 1
    assert skipped == {"request": 12, "redirect": 2, "status:404": 2, "not_html": 2, "metadata": 2}
    first = read[0]
    assert first.url == "http://site0.example/news/story-0.html"
    assert first.date == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert first.charset == "utf-8"
    assert first.body is not None and b"<article><h1>" in first.body
    # Records tile the file: each starts where the one before ended, the last ends at its end.
    assert records[0].start == 0
    assert all(a.end == b.start for a, b in itertools.pairwise(records))
    assert records[-1].end == path.stat().st_size


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_reading_from_a_record_offset_goes_on_with_the_next_records(tmp_path: Path, name: str) -> None:
    """A reader started at the end offset of record k yields exactly the records after k."""
    path = tmp_path / name
    harness.write_archive(sites(), path)
    with path.open("rb") as fh:
        everything = list(read_warc(fh))
    k = 9
    with path.open("rb") as fh:
        rest = list(read_warc(fh, start=everything[k].end))
    assert [(r.url, r.skip, r.body) for r in rest] == [(r.url, r.skip, r.body) for r in everything[k + 1 :]]


def test_filters_skip_before_the_body_is_read_and_big_pages_are_refused(tmp_path: Path) -> None:
    """Site and date filters name their reason; a body over the byte limit is `too_large`."""
    path = tmp_path / "crawl.warc"
    harness.write_archive(sites(), path, junk=False)
    site1 = ImportFilters(site="www.site1.example")
    with path.open("rb") as fh:
        reasons = {r.skip for r in read_warc(fh, accept=site1.reason) if r.url.startswith("http://site0")}
    assert reasons == {"request", "other_site"}
    later = ImportFilters(since=datetime(2025, 3, 5, tzinfo=UTC))
    earlier = ImportFilters(until=datetime(2025, 3, 4, tzinfo=UTC))
    day = ImportFilters(since=datetime(2025, 3, 4, tzinfo=UTC), until=datetime(2025, 3, 4, 23, tzinfo=UTC))
    assert later.reason("http://site0.example/a", datetime(2025, 3, 4, 5, tzinfo=UTC)) == "before_since"
    assert earlier.reason("http://site0.example/a", datetime(2025, 3, 4, 5, tzinfo=UTC)) == "after_until"
    assert day.reason("http://site0.example/a", datetime(2025, 3, 4, 5, tzinfo=UTC)) is None
    assert day.reason("http://site0.example/a", None) == "undated"
    with path.open("rb") as fh:
        small = [r.skip for r in read_warc(fh, max_bytes=200) if r.skip != "request"]
    assert small and set(small) == {"too_large"}


def test_a_compressed_response_body_is_read_as_the_page(tmp_path: Path) -> None:
    """A response archived with Content-Encoding: gzip (as crawlers keep them) yields the decoded page."""
    path = tmp_path / "gz.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        packed = gzip.compress(PAGE)
        head = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Content-Length", str(len(packed)))],
            protocol="HTTP/1.1",
        )
        writer.write_record(
            writer.create_warc_record(
                "https://news.example/a", "response", payload=io.BytesIO(packed), length=len(packed), http_headers=head
            )
        )
    with path.open("rb") as fh:
        (record,) = list(read_warc(fh))
    assert record.body == PAGE and record.charset is None


def test_what_export_writes_reads_back_as_the_same_pages(tmp_path: Path) -> None:
    """`write_warc` then `read_warc`: each page's URL, fetch time, body and charset come back."""
    when = datetime(2024, 12, 31, 23, 59, 58, tzinfo=UTC)
    pages = [ArchivedPage(f"https://news.example/{i}", when, PAGE + bytes([65 + i]), "utf-8") for i in range(3)]
    path = tmp_path / "export.warc.gz"
    with path.open("wb") as out:
        write_warc(out, pages, filename=path.name)
    with path.open("rb") as fh:
        back = [r for r in read_warc(fh) if r.skip is None]
    assert [(r.url, r.date, r.body, r.charset) for r in back] == [(p.url, when, p.body, p.charset) for p in pages]


def test_a_file_that_is_no_warc_is_a_clear_error(tmp_path: Path) -> None:
    """Bytes that are no WARC raise PermanentError naming the file and the offset."""
    path = tmp_path / "notes.warc"
    path.write_bytes(b"these are my notes, not an archive\n" * 10)
    with path.open("rb") as fh, pytest.raises(PermanentError, match=r"notes\.warc: .*byte 0"):
        list(read_warc(fh, where=str(path)))


def test_a_file_cut_short_yields_its_whole_records_then_says_where_it_breaks(tmp_path: Path) -> None:
    """A download that stopped mid-record: the records before are read, then a PermanentError."""
    path = tmp_path / "crawl.warc.gz"
    harness.write_archive(sites(), path)
    with path.open("rb") as fh:
        whole = list(read_warc(fh))
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(path.read_bytes()[: whole[20].start + 30])
    read = []
    with (
        cut.open("rb") as fh,
        pytest.raises(PermanentError, match=rf"cut\.warc\.gz: cut short: .* at byte {whole[19].end}"),
    ):
        read.extend(read_warc(fh, where=str(cut)))
    assert [r.url for r in read] == [r.url for r in whole[:20]]


def test_sources_are_the_files_named_and_those_under_directories(tmp_path: Path) -> None:
    """Directories give their WARC files by name; a moved file keeps its id, other filters make another."""
    (tmp_path / "d").mkdir()
    for name in ("b.warc.gz", "a.warc", "notes.txt"):
        (tmp_path / "d" / name).write_bytes(b"WARC/1.1\r\n" + name.encode())
    found = find_sources([tmp_path / "d"], ImportFilters())
    assert [s.path.name for s in found] == ["a.warc", "b.warc.gz"]
    moved = tmp_path / "moved.warc"
    moved.write_bytes((tmp_path / "d" / "a.warc").read_bytes())
    assert find_sources([moved], ImportFilters())[0].id == found[0].id
    assert find_sources([moved], ImportFilters(site="x.example"))[0].id != found[0].id
    (tmp_path / "empty").mkdir()
    with pytest.raises(PermanentError, match="no WARC file"):
        find_sources([tmp_path / "empty"], ImportFilters())
    with pytest.raises(PermanentError, match="no such file"):
        find_sources([tmp_path / "missing.warc"], ImportFilters())


def test_a_response_record_without_a_target_uri_is_a_clear_error(tmp_path: Path) -> None:
    """A response record with no WARC-Target-URI trips warcio over (AttributeError inside it):
    read as a record that cannot be read, naming the file and the offset, so an import names
    the file and goes on with the next one."""
    path = tmp_path / "hand-made.warc"
    path.write_bytes(
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: 2025-01-01T00:00:00Z\r\n"
        b"Content-Type: application/http; msgtype=response\r\nContent-Length: 9999\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><p>Tin</p></html>\r\n\r\n"
    )
    with path.open("rb") as fh, pytest.raises(PermanentError, match=r"hand-made\.warc: .*byte 0: malformed record"):
        list(read_warc(fh, where=str(path)))
