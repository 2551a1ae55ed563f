"""One fix to kombu's Redis transport: a channel of a broker connection that was taken apart
fails with a connection error, which everything around it knows how to ride out.

When the Redis broker goes away, Celery's consumer gathers the broken connection
(`Connection.collect`), which leaves its transport without a client, then closes it. Its
channels can still be used after that: closing the default channel restores the messages it
held, and a task that finishes after the reconnection acknowledges its message on the old
channel. With kombu 5.7 both build a Redis client from the missing one and fail with an
AttributeError, which Celery does not count among connection errors: it logged
"Unrecoverable error" and the worker process exited (code 1), in the fault suite about once
in ten Redis restarts.

Raised as a Redis connection error instead, the close is one Celery ignores, and a late
acknowledgement is one it logs and leaves (`workers.outages` folds it into the outage). The
messages stay in Redis's table of unacknowledged messages and are delivered again, as those
of a worker that died are: by the reconciler (`workers.handoff`), or by kombu after the
visibility timeout. Every stage is idempotent, so a second delivery is harmless.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis

GONE = "the broker connection this channel belonged to was closed after an outage"


def _connparams(self: Any, asynchronous: bool = False) -> dict[str, Any]:
    if self.connection.client is None:
        raise _CLIENT.ConnectionError(GONE)  # the Redis client's own: one of the transport's connection errors
    params: dict[str, Any] = _original(self, asynchronous)
    return params


_CHANNEL: Any = kombu_redis.Channel  # its stubs do not declare the private method
_CLIENT: Any = getattr(kombu_redis, "redis")  # noqa: B009  # the Redis client the transport uses (only the state layer imports it)
_original = _CHANNEL._connparams


def install() -> None:
    """Put the fix in place (idempotent): every process that loads the Celery app does."""
    if _CHANNEL._connparams is not _connparams:
        _CHANNEL._connparams = _connparams
