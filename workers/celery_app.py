"""The Celery app: one queue per stage, late acks, retries, routes.

Configuration is read when the app first configures itself (on first use), not at import,
from the same `Settings` object as everything else.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

QUEUES = ("feeds", "fetch", "process", "index")
ROUTES = {
    "feeds.*": {"queue": "feeds"},
    "fetch.*": {"queue": "fetch"},
    "process.*": {"queue": "process"},
    "index.*": {"queue": "index"},
}


class NewsflowCelery(Celery):
    def on_configure(self) -> None:  # called once, lazily, before the config is used
        from workers.runtime import broker_url, get_runtime

        runtime = get_runtime()
        settings = runtime.settings
        self.conf.update(
            broker_url=broker_url(runtime.redis_url),
            broker_transport_options={
                # A task reserved by a worker that vanished is delivered again after this.
                "visibility_timeout": settings.visibility_timeout,
            },
            broker_connection_retry_on_startup=True,
            task_ignore_result=True,
            result_backend=None,
            task_acks_late=True,
            task_reject_on_worker_lost=True,
            worker_prefetch_multiplier=1,
            task_queues=[Queue(q) for q in QUEUES],
            task_default_queue="process",
            task_routes=ROUTES,
            task_serializer="json",
            accept_content=["json"],
            worker_hijack_root_logger=False,
            worker_send_task_events=True,
            task_send_sent_event=True,
            beat_schedule={
                "schedule-due-feeds": {"task": "feeds.schedule", "schedule": 5.0},
            },
        )


app = NewsflowCelery("newsflow", include=["workers.tasks"])
