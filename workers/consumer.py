"""Celery's task consumer, made to ride out one way a broker outage used to end the worker.

When the Redis broker goes away, Celery's consumer gathers the broken connection's channels
(`collect`), then closes it. With kombu 5.7 the close can still reach the channel's
`restore_unacked_once`, which builds a Redis client from a connection `collect` has already
taken apart: an AttributeError that Celery does not count among connection errors, so it
logs "Unrecoverable error" and the worker process exits (code 1). In the fault suite it
happened about once in ten Redis restarts, whenever a message was held at the moment of the
outage.

Nothing is lost by going on without that close: the messages the connection held stay in
Redis's table of unacknowledged messages, and are delivered again as those of a worker that
died are: by the reconciler (`workers.handoff`), or by kombu after the visibility timeout.
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer as CeleryConsumer

log = logging.getLogger("newsflow.worker")


class Consumer(CeleryConsumer):
    def on_connection_error_after_connected(self, exc: Exception) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as error:
            if self.connection is not None:  # not the close of the broken connection: a bug
                raise
            log.info(
                "the broken broker connection could not be closed cleanly (%s); the messages it held "
                "stay in Redis and are delivered again",
                error,
            )
