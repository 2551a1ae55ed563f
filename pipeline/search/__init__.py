"""Search backends: Tantivy (embedded default), SQLite FTS5 (embedded, by setting) and
Elasticsearch, one protocol."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.search.base import SearchBackend
    from pipeline.settings import Settings

log = logging.getLogger(__name__)


def backend_name(settings: Settings) -> str:
    """Which backend the settings name: "elasticsearch", "tantivy" or "sqlite".

    A data directory that holds only a SQLite index (from before Tantivy was the default)
    keeps using it until `newsflow reindex` has built the Tantivy index beside it.
    """
    if settings.elasticsearch_url:
        return "elasticsearch"
    if settings.search_backend == "tantivy" and not settings.tantivy_path.exists() and settings.sqlite_path.exists():
        return "sqlite"
    return settings.search_backend


def open_backend(settings: Settings) -> SearchBackend:
    """The backend the settings name, ready to use.

    Each backend is imported only when chosen, so a process that searches the embedded
    index never loads the Elasticsearch client.
    """
    backend: SearchBackend
    name = backend_name(settings)
    if name == "elasticsearch":
        from pipeline.search.elastic import ElasticsearchBackend

        backend = ElasticsearchBackend.from_settings(settings)
    elif name == "tantivy":
        from pipeline.search.tantivy import TantivyBackend

        backend = TantivyBackend.from_settings(settings)
    else:
        from pipeline.search.sqlite import SqliteBackend

        if settings.search_backend == "tantivy":
            log.info("search: %s is a SQLite index; `newsflow reindex` moves it to Tantivy", settings.sqlite_path)
        backend = SqliteBackend.from_settings(settings)
    backend.ensure_ready()
    return backend
