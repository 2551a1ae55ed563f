"""The runtime: the Celery app, its tasks, and the entrypoints (CLI).

`celery -A workers worker -Q fetch` finds the app here.
"""

from workers import metrics as _metrics  # noqa: F401 - connects the Celery signal receivers of the metrics
from workers.celery_app import app

__all__ = ["app"]
