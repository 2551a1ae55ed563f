"""The runtime: the Celery app, its tasks, and the entrypoints (CLI).

`celery -A workers worker -Q fetch` finds the app here.
"""

from workers.celery_app import app

__all__ = ["app"]
