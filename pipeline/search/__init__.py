"""Search backends: SQLite FTS5 (embedded default) and Elasticsearch, one protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.search.base import SearchBackend
    from pipeline.settings import Settings


def open_backend(settings: Settings) -> SearchBackend:
    """The backend the settings name (Elasticsearch when its URL is set), ready to use.

    Each backend is imported only when chosen, so a process that searches SQLite never
    loads the Elasticsearch client.
    """
    backend: Any
    if settings.elasticsearch_url:
        from pipeline.search.elastic import ElasticsearchBackend

        backend = ElasticsearchBackend.from_settings(settings)
    else:
        from pipeline.search.sqlite import SqliteBackend

        backend = SqliteBackend.from_settings(settings)
    backend.ensure_ready()
    return backend
