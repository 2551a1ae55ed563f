"""Log output for every newsflow process: text for people, or one JSON object a line for a log stack.

`NEWSFLOW_LOG_FORMAT=json` (the `log_format` setting) makes each line
`{"time", "level", "message", "logger", "stage", "task_id", "url", "outcome", ...}`; the task
fields are filled in while a Celery task runs (null elsewhere), and `outcome` by the line
that ends each task (completed, retried, error) or by any call that passes
`extra={"outcome": ...}`. Nothing is configured at import: entrypoints call
`configure_logging`; Celery workers and beat do it through the `setup_logging` signal.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

from celery import current_task
from celery.signals import setup_logging

TASK_FIELDS = ("stage", "task_id", "url", "outcome")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Celery's own "Task ... succeeded" lines repeat the line newsflow writes when a task ends.
QUIET_LOGGERS = ("celery.app.trace",)


class TaskContext(logging.Filter):
    """Adds the running task's stage, id and URL to each record (None outside a task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if current_task:
            task = current_task
            from workers.metrics import stage_of

            request = task.request
            _default(record, "stage", stage_of(task.name))
            _default(record, "task_id", request.id)
            _default(record, "url", url_of(request.args, request.kwargs))
        for field in TASK_FIELDS:
            _default(record, field, None)
        return True


def _default(record: logging.LogRecord, name: str, value: Any) -> None:
    if getattr(record, name, None) is None:
        setattr(record, name, value)


def url_of(args: Any, kwargs: Any = None) -> str | None:
    """The URL a task works on: its `url`, or the `url` of its feed or page (keyword or first argument)."""
    named = dict(kwargs or {})
    for value in (named.get("url"), named.get("page"), named.get("feed"), *(args or ())[:1]):
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
        if isinstance(value, dict) and isinstance(value.get("url"), str):
            return str(value["url"])
    return None


class TextFormatter(logging.Formatter):
    """The usual text line, with `[stage task_id url]` appended inside a task."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        parts = [str(getattr(record, f)) for f in ("stage", "task_id", "url") if getattr(record, f, None)]
        return f"{line} [{' '.join(parts)}]" if parts else line


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        ["levelname", "message", "name", *TASK_FIELDS],
        rename_fields={"levelname": "level", "name": "logger"},
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's copy of the message, with ANSI colours
        timestamp="time",  # ISO 8601, UTC
        json_ensure_ascii=False,
    )


def configure_logging(log_format: str, level: int | str = logging.INFO, stream: IO[str] | None = None) -> None:
    """Send every logger's records to one handler on `stream` (stderr), as text or JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(TaskContext())
    handler.setFormatter(json_formatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


@setup_logging.connect
def _celery_logging(loglevel: int | str | None = None, logfile: str | None = None, **_: Any) -> None:
    """Workers and beat: newsflow's handler instead of Celery's (the log file, if one is named)."""
    from workers.runtime import get_runtime

    stream = open(logfile, "a", encoding="utf-8") if logfile else None  # noqa: SIM115 - the process's log, open for its life
    configure_logging(get_runtime().settings.log_format, loglevel or logging.INFO, stream)
