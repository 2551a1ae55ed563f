"""Per-process wiring: settings, clients and services, each built once and shared.

Nothing here runs at import. A worker process builds its `Runtime` on its first task (after
the prefork fork, so no socket is shared between processes); the CLI builds one explicitly.
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from typing import TYPE_CHECKING

from pipeline.errors import TransientError
from pipeline.settings import Settings
from pipeline.stages import QUEUES
from pipeline.state import StateStore, connect, describe
from workers.embedded import EmbeddedRedis

if TYPE_CHECKING:  # the heavy parts are imported by the properties that build them
    from pipeline.dedup import NearDupIndex
    from pipeline.fetching import Fetcher
    from pipeline.ingest import ProcessDeps
    from pipeline.politeness import PoliteFetcher, Politeness
    from pipeline.search.base import SearchBackend
    from pipeline.state.boilerplate import BoilerplateStats
    from pipeline.storage import RawStore

log = logging.getLogger("newsflow")


def kombu_url(redis_url: str) -> str:
    """The Celery broker URL for a Redis URL (unix sockets use kombu's own scheme)."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://") :]
    return redis_url


class Runtime:
    """The clients of one process. Thread-safe to read; build with `Runtime(settings)`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedded: EmbeddedRedis | None = None

    @cached_property
    def redis_url(self) -> str:
        if self.settings.redis_url:
            return self.settings.redis_url
        self._embedded = EmbeddedRedis(self.settings.data_dir)
        return self._embedded.url

    @cached_property
    def broker_url(self) -> str:
        """The Redis of Celery's queues: `broker_url` when set, else the state's."""
        return self.settings.broker_url or self.redis_url

    def where_redis(self) -> str:
        """The Redis an outage message names: the state's, and the broker's when apart."""
        where = f"Redis at {describe(self.redis_url)}"
        if self.broker_url != self.redis_url:
            where += f" (broker at {describe(self.broker_url)})"
        return where

    @cached_property
    def state(self) -> StateStore:
        client = connect(self.redis_url, cluster=self.settings.redis_cluster)
        return StateStore(
            client,
            broker=client if self.broker_url == self.redis_url else connect(self.broker_url),
            seen_retention=self.settings.seen_retention_days * 86400,
            dead_letters_max=self.settings.dead_letters_max,
            queues=QUEUES,
            recent_pages=self.settings.boilerplate_recent_pages,
        )

    @cached_property
    def fetcher(self) -> Fetcher:
        from pipeline.fetching import Fetcher

        return Fetcher.from_settings(self.settings)

    @cached_property
    def polite_fetcher(self) -> PoliteFetcher:
        """The fetcher of the workers: every request asks the shared politeness first."""
        from pipeline.politeness import PoliteFetcher

        return PoliteFetcher(self.fetcher, self.politeness)

    @cached_property
    def politeness(self) -> Politeness:
        from pipeline.politeness import Politeness, PolitenessConfig

        return Politeness(self.state.hosts, PolitenessConfig.from_settings(self.settings))

    @cached_property
    def raw_store(self) -> RawStore:
        from pipeline.storage import open_raw_store

        return open_raw_store(self.settings)

    @cached_property
    def boilerplate(self) -> BoilerplateStats:
        return self.state.boilerplate(
            min_pages=self.settings.boilerplate_min_pages,
            shards=self.settings.boilerplate_shards,
            shard_size=self.settings.boilerplate_shard_size,
        )

    @cached_property
    def neardup(self) -> NearDupIndex:
        from pipeline.dedup import SIG_VERSION, NearDupIndex

        return NearDupIndex(self.state.neardup(SIG_VERSION), ttl_days=self.settings.neardup_window_days)

    @cached_property
    def process_deps(self) -> ProcessDeps:
        from pipeline.drift import DriftLimits
        from pipeline.ingest import ProcessDeps

        return ProcessDeps(
            store=self.raw_store,
            boilerplate=self.boilerplate,
            neardup=self.neardup,
            state=self.state,
            drift=DriftLimits.from_settings(self.settings),
            drop_not_articles=self.settings.drop_not_articles,
        )

    @cached_property
    def search(self) -> SearchBackend:
        from pipeline.search import open_backend

        return open_backend(self.settings)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def index_size(self) -> int | None:
        """Articles in the search index; None while the backend does not answer (a run goes
        on: articles wait in Redis until it is back)."""
        try:
            return self.search.count()
        except TransientError as exc:
            log.warning("%s", exc)
            return None

    def close(self) -> None:
        for name in ("fetcher", "search"):
            if name in self.__dict__:
                self.__dict__[name].close()
        if "state" in self.__dict__:
            self.state.close()
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
