"""Moving the embedded index to Tantivy: `newsflow reindex` on a data directory.

The new index is built beside the live one (`index.tantivy.building`) from every document
of the live index, SQLite's from before the upgrade or Tantivy's own, and takes its place
by one rename only once it is complete: until then every process goes on with the old one,
and a reindex cut short leaves nothing in the way (the next one starts afresh).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import PermanentError

if TYPE_CHECKING:
    from pipeline.models import Article
    from pipeline.search.base import SearchBackend
    from pipeline.settings import Settings

log = logging.getLogger(__name__)
BATCH = 1000

ProgressCallback = Callable[[int, int], None]


@dataclass
class Rebuilt:
    source: Path
    target: Path
    copied: int = 0
    caught_up: int = 0  # documents the SQLite index took while the copy ran, copied after it
    previous: Path | None = None  # the Tantivy index it replaced, kept aside for the operator


def rebuild_embedded(settings: Settings, progress: ProgressCallback | None = None) -> Rebuilt:
    """Build the Tantivy index from the live embedded index and switch to it when complete."""
    from pipeline.search.sqlite import SqliteBackend
    from pipeline.search.tantivy import TantivyBackend

    target = settings.tantivy_path
    source: SearchBackend
    if target.exists():
        source, source_path = TantivyBackend(target), target
    elif settings.sqlite_path.exists():
        source, source_path = SqliteBackend(settings.sqlite_path), settings.sqlite_path
    else:
        raise PermanentError(
            f"reindex: {settings.data_dir} holds no index to rebuild from;"
            " `newsflow reprocess` indexes the stored raw pages again"
        )
    building = target.with_name(target.name + ".building")
    shutil.rmtree(building, ignore_errors=True)  # what a reindex cut short left
    result = Rebuilt(source=source_path, target=target)
    fresh = TantivyBackend(building)
    try:
        fresh.ensure_ready()  # an index with no documents is an index too: the switch needs its directory
        last_rowid = source.last_rowid() if isinstance(source, SqliteBackend) else None
        result.copied = _copy(source.iter_all(), fresh, progress, source.count())
        if isinstance(source, SqliteBackend) and last_rowid is not None:
            result.caught_up = _copy(source.added_after(last_rowid), fresh, None, 0)
    finally:
        fresh.close()  # the writer's merges end and its lock is let go
        source.close()
    if target.exists():
        result.previous = target.with_name(f"{target.name}.old-{time.strftime('%Y%m%d%H%M%S')}")
        target.rename(result.previous)
    building.rename(target)  # the switch: a process opening the index from now on finds the new one
    return result


def _copy(articles: Iterable[Article], target: SearchBackend, progress: ProgressCallback | None, total: int) -> int:
    done = 0
    batch: list[Article] = []
    for art in articles:
        batch.append(art)
        if len(batch) >= BATCH:
            target.index(batch)
            done += len(batch)
            batch.clear()
            if progress:
                progress(done, total)
    if batch:
        target.index(batch)
        done += len(batch)
    if progress:
        progress(done, max(total, done))
    return done
