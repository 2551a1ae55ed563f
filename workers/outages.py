"""Outages newsflow rides out, logged as outages: one warning when one begins, one line when it ends.

Redis away or the search backend frozen, every task that meets it (and Celery's consumer, and
the Redis client) would log a line, often with a traceback, each time. Per process, an
`Outage` logs the first meeting as a warning, counts the others silently, and logs one line
when the resource answers again: how long it lasted and how much waited.

`OutageFilter` sits on the log handler of every process (`logs.configure_logging`): a record
that carries a Redis outage (as its exception, or among its arguments) is folded into the
Redis outage, so no traceback is printed for it; tracebacks are for bugs.
"""

from __future__ import annotations

import logging
import threading
import time

from pipeline.state import is_outage

log = logging.getLogger("newsflow.outage")


class Outage:
    """One resource's outage as this process sees it (thread-safe)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self.since: float | None = None
        self.waited = 0
        self.most_waiting = 0

    def hit(self, error: object, waiting: int | None = None) -> None:
        """`error` met: the first time, one warning; after that, counted."""
        with self._lock:
            self.most_waiting = max(self.most_waiting, waiting or 0)
            if self.since is not None:
                self.waited += 1
                return
            self.since, self.waited = time.monotonic(), 1
        log.warning("%s is unavailable (%s); work waits until it answers (outage begins)", self.what, error)

    def over(self, what_waits: str = "attempt(s)", began: float | None = None) -> None:
        """The resource answered: one line, if it was out, with how long and how much waited.

        `began` (time.monotonic()): when the call that succeeded started; one that started
        before the outage did (another thread's, answered just before) says nothing of its end."""
        with self._lock:
            if self.since is None or (began is not None and began < self.since):
                return
            lasted, waited, most = time.monotonic() - self.since, self.waited, self.most_waiting
            self.since, self.waited, self.most_waiting = None, 0, 0
        extra = f", up to {most} waiting" if most else ""
        log.warning(
            "%s answers again after %.0f s; %d %s waited%s (outage ends)", self.what, lasted, waited, what_waits, extra
        )

    @property
    def ongoing(self) -> bool:
        return self.since is not None


REDIS = Outage("Redis")
SEARCH = Outage("the search backend")
# Celery's consumer says so when it has its broker connection back.
_RECONNECTED = ("celery.worker.consumer.connection", "Connected to ")
# Where and how Celery's worker says it stops on an error it cannot recover from.
_STOPPING = ("celery.worker", logging.CRITICAL)


class OutageFilter(logging.Filter):
    """Folds records about a Redis outage into `REDIS`: the first one is its warning, the
    others are counted; none prints a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        # A worker saying why it stops ("Unrecoverable error", with its traceback): folded into
        # the outage, the process would end without a word.
        stopping = record.name == _STOPPING[0] and record.levelno >= _STOPPING[1]
        if stopping or record.name.startswith("newsflow.outage"):
            return True
        error = _outage_in(record)
        if error is None:
            if record.name == _RECONNECTED[0] and str(record.msg).startswith(_RECONNECTED[1]):
                REDIS.over()
            return True
        REDIS.hit(error)
        return False


def _outage_in(record: logging.LogRecord) -> BaseException | None:
    candidates: list[object] = []
    if record.exc_info and record.exc_info[1] is not None:
        candidates.append(record.exc_info[1])
    args = record.args if isinstance(record.args, tuple) else ()
    candidates += args
    for value in candidates:
        if isinstance(value, BaseException) and is_outage(value):
            return value
    return None
