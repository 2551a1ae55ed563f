"""The runtime: the Celery app, its tasks, and the entrypoints (CLI).

`celery -A workers worker -Q fetch` finds the app here.
"""

# Imported for the Celery signal receivers they connect (metrics, log set-up); nothing runs now.
from workers import logs as _logs  # noqa: F401
from workers import metrics as _metrics  # noqa: F401
from workers.celery_app import app

__all__ = ["app"]
