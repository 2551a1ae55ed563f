"""The Celery app: one queue per stage, late acks, routes, the beat schedule.

Configuration is read when the app first configures itself (on first use), not at import,
from the same `Settings` object as everything else.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_init
from kombu import Exchange, Queue

from pipeline.stages import QUEUES

SWEEP_INTERVAL = 60.0  # seconds between two sweeps of articles still waiting for the search backend
ROUTES = {f"{q}.*": {"queue": q, "exchange": q, "routing_key": q} for q in QUEUES}


class NewsflowCelery(Celery):
    def on_configure(self) -> None:  # type: ignore[override]  # celery-types has only the signal; celery calls this
        # Called once, lazily, before the config is used.
        # Hand the configuration over as its source: touching `self.conf` here would start
        # the configuration again from inside itself (a RecursionError in some import orders).
        self.config_from_object(configuration())


def configuration() -> dict[str, Any]:
    """The Celery settings, from this process's newsflow settings."""
    from workers.runtime import get_runtime, kombu_url

    runtime = get_runtime()
    settings = runtime.settings
    return dict(
        broker_url=kombu_url(runtime.broker_url),
        broker_transport_options={
            # A task reserved by a worker that vanished is delivered again after this.
            "visibility_timeout": settings.visibility_timeout,
            # Look for such tasks every few seconds (kombu's default is ~100 s).
            "unacked_restore_interval": max(1, min(10, settings.visibility_timeout // 3)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Each queue bound to its own exchange and key: a message lands in one queue only.
        task_queues=[Queue(q, Exchange(q, type="direct"), routing_key=q) for q in QUEUES],
        task_default_queue="process",
        task_routes=ROUTES,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
        beat_scheduler="workers.beat:LeasedScheduler",  # one scheduler per Redis schedules
        beat_schedule={
            "schedule-due-feeds": {"task": "feeds.schedule", "schedule": 5.0},
            "sweep-pending-index": {"task": "index.sweep", "schedule": SWEEP_INTERVAL},
            "reconcile-work": {"task": "handoff.reconcile", "schedule": settings.reconcile_interval},
        },
    )


app = NewsflowCelery("newsflow", include=["workers.tasks"])

# A broker connection taken apart in an outage fails as a connection error (`workers.broker`).
from workers import broker as _broker  # noqa: E402

_broker.install()

# Their Celery signal receivers (task metrics, the log format) connect when the app is loaded.
from workers import logs as _logs  # noqa: E402, F401
from workers import metrics as _metrics  # noqa: E402, F401


@worker_init.connect
@beat_init.connect
def die_with_supervisor(**_: Any) -> None:
    """A worker or scheduler started by `newsflow run` ends when its parent does, even when a
    wrapper stands between them (`lifeline`); its pool children end with it (billiard)."""
    from workers import lifeline

    lifeline.arm()


@worker_init.connect
def check_raw_store(**_: Any) -> None:
    """A worker whose raw store cannot be used as configured (no such bucket, credentials
    refused) stops at start, saying why, instead of failing every page it takes."""
    from pipeline.errors import RawStoreMisconfigured
    from pipeline.storage import open_raw_store
    from workers.runtime import get_runtime

    try:
        # A store of its own, dropped after: pool children must not inherit its connections.
        open_raw_store(get_runtime().settings).check()
    except RawStoreMisconfigured as exc:
        logging.getLogger("newsflow").critical("newsflow: %s", exc)
        raise SystemExit(2) from None
