"""Log output for every newsflow process: text for people, or one JSON object a line for a log stack.

`NEWSFLOW_LOG_FORMAT=json` (the `log_format` setting) makes each line
`{"time", "level", "message", "logger", "stage", "task_id", "url", "outcome", ...}`; the task
fields are filled in while a Celery task runs (null elsewhere), and `outcome` by the line
that ends each task (completed, retried, error) or by any call that passes
`extra={"outcome": ...}`. Nothing is configured at import: entrypoints call
`configure_logging`; Celery workers and beat do it through the `setup_logging` signal.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from typing import IO, Any

from celery import current_task
from celery.signals import celeryd_init, setup_logging

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


class StrayOutput(io.TextIOBase):
    """A text stream whose every line becomes a log record of `logger` (what a worker prints
    outside logging: a banner, a traceback, a line a library writes on stderr)."""

    _guard = threading.local()

    def __init__(self, logger: logging.Logger, level: int, original: IO[str]) -> None:
        super().__init__()
        self.logger, self.level, self.original = logger, level, original
        self._partial = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.original.fileno()

    def write(self, text: str) -> int:
        if getattr(self._guard, "busy", False):  # a handler writing here: to the real stream
            return self.original.write(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        if self._partial:
            line, self._partial = self._partial, ""
            self._emit(line)

    def _emit(self, line: str) -> None:
        if not line.strip():
            return
        self._guard.busy = True
        try:
            self.logger.log(self.level, line.rstrip())
        finally:
            self._guard.busy = False


def route_stray_output() -> None:
    """In a worker or scheduler writing JSON: stdout and stderr (and Python's own copies of
    them, which Celery prints its shutdown notices to) become loggers, one record a line."""
    if isinstance(sys.stderr, StrayOutput):
        return
    err, out = sys.stderr, sys.stdout
    sys.stdout = StrayOutput(logging.getLogger("stdout"), logging.INFO, out)
    sys.stderr = StrayOutput(logging.getLogger("stderr"), logging.WARNING, err)
    # typeshed declares Python's own copies final; Celery prints its shutdown notices to them.
    sys.__stdout__ = sys.stdout  # type: ignore[misc,assignment]
    sys.__stderr__ = sys.stderr  # type: ignore[misc,assignment]


def _real_stderr() -> IO[str]:
    return sys.stderr.original if isinstance(sys.stderr, StrayOutput) else sys.stderr


def configure_logging(
    log_format: str, level: int | str = logging.INFO, stream: IO[str] | None = None, *, worker: bool = False
) -> None:
    """Send every logger's records, Python's warnings included, to one handler on `stream`
    (stderr), as text or JSON lines. `worker`: a worker or the scheduler, whose records about
    a Redis outage are folded into one warning when it begins and one line when it ends."""
    logging.captureWarnings(True)  # a warning is one record, its continuation lines inside it
    handler = logging.StreamHandler(stream or _real_stderr())
    if worker:
        from workers.outages import OutageFilter

        handler.addFilter(OutageFilter())
    handler.addFilter(TaskContext())
    handler.setFormatter(json_formatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # The Elasticsearch client logs each retry of an unreachable node with its traceback; the
    # backend's own error says it once, and an outage is logged as one (`workers.outages`).
    logging.getLogger("elastic_transport").setLevel(max(logging.ERROR, root.level))


@setup_logging.connect
def _celery_logging(loglevel: int | str | None = None, logfile: str | None = None, **_: Any) -> None:
    """Workers and beat: newsflow's handler instead of Celery's (the log file, if one is named)."""
    from workers.runtime import get_runtime

    log_format = get_runtime().settings.log_format
    stream = open(logfile, "a", encoding="utf-8") if logfile else None  # noqa: SIM115 - the process's log, open for its life
    configure_logging(log_format, loglevel or logging.INFO, stream, worker=True)
    if log_format == "json":
        route_stray_output()


@celeryd_init.connect
def _worker_logging_early(**_: Any) -> None:
    """A worker, before its privilege check warns (as root) and before it prints anything:
    JSON from the first line (its own logging set-up comes later)."""
    from workers.runtime import get_runtime

    if get_runtime().settings.log_format == "json":
        configure_logging("json", worker=True)
        route_stray_output()
        # Its notices from signal handlers ("Warm shutdown") go straight to file descriptor 2,
        # past any stream: through logging instead.
        import celery.apps.worker

        celery.apps.worker.safe_say = _say  # type: ignore[attr-defined]  # celery-types leaves it out


def _say(message: str, f: object = None) -> None:
    logging.getLogger("celery.apps.worker").warning("%s", message.strip())
