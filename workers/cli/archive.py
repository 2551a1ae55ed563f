"""`newsflow export --warc FILE`: the stored raw pages of the indexed articles as WARC.

The raw store keeps bodies by digest only; each page's URL and fetch time come from the
index, so the export walks the index (no Redis needed) and reads each body from the store.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from workers.cli.common import open_search

if TYPE_CHECKING:
    from pipeline.search.base import SearchBackend
    from pipeline.settings import Settings
    from pipeline.storage import RawStore
    from pipeline.warc import ArchivedPage


def export_warc(settings: Settings, target: Path) -> int:
    """Write the WARC next to `target` and move it into place once complete: an export cut
    short leaves no half file under the name asked for."""
    from pipeline.storage import open_raw_store
    from pipeline.warc import write_warc

    store = open_raw_store(settings)
    store.check()
    missing: list[str] = []
    partial = target.with_name(f".{target.name}.part")
    try:
        with open_search(settings) as backend, partial.open("wb") as out:
            pages = archived_pages(backend, store, missing)
            written = write_warc(out, pages, filename=target.name, compress=target.suffix == ".gz")
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    print(f"wrote {written} page(s) from {store.location} to {target}")
    if missing:
        print(
            f"newsflow: {len(missing)} indexed article(s) have no stored raw page (pruned, or indexed before"
            f" raw pages were kept), not exported; the first: {missing[0]}",
            file=sys.stderr,
        )
    return 0


def archived_pages(backend: SearchBackend, store: RawStore, missing: list[str]) -> Iterator[ArchivedPage]:
    """Each indexed article with a stored raw page, as a page to archive; the URLs of the
    others go to `missing`."""
    from pipeline.errors import PermanentError
    from pipeline.warc import ArchivedPage

    for art in backend.iter_all():
        if not art.raw_ref or art.fetched_at is None:
            missing.append(art.url)
            continue
        try:
            body = store.get(art.raw_ref)
        except PermanentError:
            missing.append(art.url)
            continue
        yield ArchivedPage(url=art.url, fetched_at=art.fetched_at, body=body)
