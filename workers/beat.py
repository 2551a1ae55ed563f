"""The scheduler (`celery beat`): one schedules per Redis, whatever the number started.

Every beat, embedded in `newsflow run` or started by hand on any host, takes a lease in Redis
before each tick (`pipeline.state.lease`). The one that holds it schedules and renews it every
few seconds; the others stand by and check it as often. A holder that stops gives the lease
up on its way out, so another takes over within seconds; one that dies loses it when its
`LEASE_TTL` runs out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from functools import cached_property
from typing import Any

from celery.beat import PersistentScheduler

from pipeline.state import is_outage
from pipeline.state.lease import Lease

log = logging.getLogger("newsflow.scheduler")
LEASE_TTL = 30.0  # seconds a dead scheduler's lease outlives its last renewal
CHECK_EVERY = 5.0  # seconds between two renewals by the holder, or two tries by the others


class LeasedScheduler(PersistentScheduler):
    """Celery's scheduler, ticking only while it holds the scheduler lease of its Redis."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.holding: bool | None = None  # None until the first try

    @cached_property
    def lease(self) -> Lease:
        from workers.runtime import get_runtime

        return get_runtime().state.scheduler_lease(LEASE_TTL)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self._hold():
            return CHECK_EVERY
        return min(super().tick(*args, **kwargs), CHECK_EVERY)

    def _hold(self) -> bool:
        try:
            held = self.lease.hold(self.token)
        except Exception as exc:
            if not is_outage(exc):
                raise
            held = False  # nothing can be scheduled without Redis anyway; the lease runs out
        if held != self.holding:
            if held:
                log.info("scheduler %s holds the scheduler lease: scheduling", self.token)
            else:
                holder = _quietly(self.lease.holder)
                log.info("scheduler %s stands by: %s holds the scheduler lease", self.token, holder or "nobody")
        self.holding = held
        return held

    def close(self) -> None:
        if self.holding:
            self.holding = False
            with contextlib.suppress(Exception):  # going away: the ttl frees the lease otherwise
                self.lease.release(self.token)
                log.info("scheduler %s gave the scheduler lease up", self.token)
        super().close()


def _quietly(read: Any) -> Any:
    try:
        return read()
    except Exception:
        return None
