"""The runtime: the Celery app, its tasks, and the entrypoints (CLI, HTTP API).

`celery -A workers worker -Q fetch` finds the app here. It is imported on first access, so
commands that never touch Celery (`newsflow search`) do not pay for importing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.celery_app import app

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from workers.celery_app import app

        return app
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
