"""Backfilling from web archives: the pages of WARC files handed to the process stage.

An archived page takes the path of a fetched one from the raw store on: its body is stored
(content-addressed), and the process stage gets a `PageRef` whose fetch time is the record's
`WARC-Date` (also the publication date of a page that gives none of its own). Nothing is
fetched. Records go in batches through `ImportStore.commit` (`pipeline/state/imports.py`):
the URLs claimed as seen, the process work recorded in the ledger and the file's offset
moved, in one step; only then is the work published. So a killed import reads again only the
records of its last, uncommitted batch, and a page already seen (imported before, or fetched
from a feed) is not handed on twice.

Filters (site, WARC-Date) decide before a body is read; records that are no page (requests,
metadata, redirects, other statuses, not HTML) are counted by reason.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.errors import PermanentError
from pipeline.ingest import PageRef
from pipeline.stages import process_work
from pipeline.state import StateStore, WorkItem, url_digest
from pipeline.storage import RawStore
from pipeline.urls import canonicalize_url, site_of
from pipeline.warc import WarcRecord, read_warc

WARC_SUFFIXES = (".warc", ".warc.gz")
BATCH = 50  # records per commit: what a killed import reads again, at most
FINGERPRINT_BYTES = 1 << 20  # a file is known by its size and the digest of its first MiB


@dataclass(frozen=True)
class ImportFilters:
    """Which archived pages to take: a site (as `search --site` names it: the host without
    `www.`), fetched (WARC-Date) within [since, until]; `language` is given to pages that do
    not say theirs, as a feed's is."""

    site: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    language: str | None = None

    def reason(self, url: str, date: datetime | None) -> str | None:
        """Why a page is left out, or None to take it."""
        if self.site and site_of(url) != self.site.lower().removeprefix("www."):
            return "other_site"
        if (self.since or self.until) and date is None:
            return "undated"
        if self.since and date is not None and date < self.since:
            return "before_since"
        if self.until and date is not None and date > self.until:
            return "after_until"
        return None

    def key(self) -> str:
        parts = (self.site or "", _iso(self.since), _iso(self.until), self.language or "")
        return "|".join(parts)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


@dataclass(frozen=True)
class ImportSource:
    """One WARC file to import, and the id its progress is kept under: the file's size and
    first MiB, and the filters (moved or renamed, it is the same import; other filters make
    another)."""

    path: Path
    size: int
    id: str


def find_sources(paths: Sequence[Path], filters: ImportFilters) -> list[ImportSource]:
    """The WARC files named, and those under the directories named (sorted by name)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(WARC_SUFFIXES))
            if not found:
                raise PermanentError(f"{path}: no WARC file in this directory (*.warc, *.warc.gz)")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise PermanentError(f"{path}: no such file or directory")
    sources = []
    for path in dict.fromkeys(p.resolve() for p in files):
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(FINGERPRINT_BYTES)
        digest = hashlib.sha256(f"{size}\0{filters.key()}\0".encode() + head).hexdigest()[:24]
        sources.append(ImportSource(path, size, digest))
    return sources


@dataclass
class ImportTally:
    """What one import run did, for its progress and summary."""

    records: int = 0  # records read in this run
    queued: int = 0  # pages handed to the process stage
    skipped: dict[str, int] = field(default_factory=dict)  # by reason, `seen` included
    bytes_read: int = 0  # offsets reached, summed over files (those finished before included)
    files_before: int = 0  # files an earlier run of the same import read to the end
    errors: list[str] = field(default_factory=list)  # files broken at some record, each said once

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


class Importer:
    """Reads WARC files into the pipeline: stores each page, commits batches, publishes them.

    `publish` hands ledger items to the broker (the runtime's); `pause` is called between
    batches, and blocks while the pipeline is behind (`outstanding()` is the number of this
    run's pages still in the ledger): the backpressure that keeps a big archive out of Redis.
    """

    def __init__(
        self,
        state: StateStore,
        store: RawStore,
        filters: ImportFilters,
        publish: Callable[[list[WorkItem]], object],
        *,
        pause: Callable[[], None] = lambda: None,
        max_bytes: int = 5 * 1024 * 1024,
        batch: int = BATCH,
    ) -> None:
        self.state = state
        self.store = store
        self.filters = filters
        self.publish = publish
        self.pause = pause
        self.max_bytes = max_bytes
        self.batch = batch
        self.tally = ImportTally()
        self._open: deque[str] = deque()

    def run(self, sources: Iterable[ImportSource]) -> ImportTally:
        """Import every file; a file broken at some record is said in `tally.errors` after what
        came before it was handed on, and the next file is read."""
        for source in sources:
            try:
                self.import_file(source)
            except PermanentError as exc:
                self.tally.errors.append(str(exc))
                self.state.imports.fail(source.id, str(exc))
        return self.tally

    def import_file(self, source: ImportSource) -> None:
        """Read one file from where an earlier run of this import stopped, to its end."""
        before = self.state.imports.begin(
            source.id, file=str(source.path), size=source.size, started=repr(time.time()), pid=os.getpid()
        )
        offset = int(before.get("offset") or 0)
        self.tally.bytes_read += offset
        if before.get("state") == "done":
            self.state.imports.finish(source.id)
            self.tally.files_before += 1
            return
        if offset:
            # Pages an interrupted run of this import handed on, still to clean: waited for too.
            self._open.extend(self.state.imports.open_work_of(source.id))
        pending: list[WarcRecord] = []
        with source.path.open("rb") as fh:
            records = read_warc(
                fh, start=offset, max_bytes=self.max_bytes, accept=self.filters.reason, where=str(source.path)
            )
            try:
                for record in records:
                    pending.append(record)
                    if len(pending) >= self.batch:
                        # Taken off first: a batch cut short in its commit is read again, not twice.
                        batch, pending = pending, []
                        offset = self._commit(source, batch, offset)
                        self.pause()
            finally:
                # The records read before a broken one (or an interruption) are handed on.
                self._commit(source, pending, offset)
        self.state.imports.finish(source.id)

    def _commit(self, source: ImportSource, records: list[WarcRecord], offset: int) -> int:
        if not records:
            return offset
        skipped: dict[str, int] = {}
        pages: list[tuple[str, WorkItem]] = []
        for record in records:
            item = self._page(record, source) if record.skip is None else None
            if item is None:
                reason = record.skip or "bad_url"
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            pages.append(item)
        end = records[-1].end
        new = self.state.imports.commit(source.id, offset=end, records=len(records), skipped=skipped, pages=pages)
        work = [item for (_, item), is_new in zip(pages, new, strict=True) if is_new]
        if work:
            self.publish(work)
            self._open.extend(item.id for item in work)
        self.tally.records += len(records)
        self.tally.queued += len(work)
        self.tally.bytes_read += end - offset
        for reason, n in skipped.items():
            self.tally.skip(reason, n)
        if len(pages) > len(work):
            self.tally.skip("seen", len(pages) - len(work))
        return end

    def _page(self, record: WarcRecord, source: ImportSource) -> tuple[str, WorkItem] | None:
        """Store the page and make its process work (keyed by its canonical URL's digest)."""
        try:
            url = canonicalize_url(record.url)
        except ValueError:
            return None
        assert record.body is not None
        ref = self.store.put(record.body)
        fetched = record.date.isoformat() if record.date else ""
        page = PageRef(
            url=url,
            final_url=url,
            ref=ref,
            fetched_at=fetched,
            charset=record.charset,
            language=self.filters.language,
            published=fetched or None,
        )
        msg = page.to_msg()
        msg["import"] = source.id  # which import handed it on (the process stage reads no more of it)
        return url_digest(url), process_work(msg, page.page_id)

    def outstanding(self) -> int:
        """Pages this run handed on that are still in the ledger (queued, running, retrying);
        the backpressure keeps them few, so all are checked each time."""
        still = self.state.imports.open_work(self._open)
        self._open = deque(work_id for work_id in self._open if work_id in still)
        return len(self._open)
