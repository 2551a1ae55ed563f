"""What several command groups share: the runtime's lifetime, argument types, printing.

Heavy modules (Celery, Redis, the pipeline) are imported inside functions: every command
imports this module, and `newsflow search` should not pay for what `newsflow run` needs.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.search.base import SearchBackend, SearchPage
    from pipeline.settings import Settings
    from workers.runtime import Runtime

DEFAULT_FEEDS = Path(__file__).resolve().parent.parent.parent / "config" / "feeds.yaml"


@contextmanager
def open_runtime(settings: Settings) -> Iterator[Runtime]:
    """This process's Runtime for one command (tasks it queues share its clients); closed,
    and the embedded Redis it may have started stopped, however the command ends."""
    from workers.runtime import Runtime, set_runtime

    with Runtime(settings) as rt:
        set_runtime(rt)
        try:
            yield rt
        finally:
            set_runtime(None)


@contextmanager
def open_search(settings: Settings) -> Iterator[SearchBackend]:
    """The search index alone, without Redis: what the read commands need."""
    from pipeline.search import open_backend

    backend = open_backend(settings)
    try:
        yield backend
    finally:
        backend.close()


def whole_number(low: int, high: int) -> Any:
    """An argparse type: an integer from `low` to `high`, or a one-line usage error."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from {low} to {high}")
        return number

    return parse


def date(value: str) -> datetime:
    """An argparse type: YYYY-MM-DD or ISO 8601, as UTC."""
    from pipeline.models import as_utc

    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def timestamp(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(float(value), UTC).isoformat(timespec="seconds")


def print_page(page: SearchPage) -> None:
    print(f"{page.total} result(s)")
    for i, hit in enumerate(page.hits, 1):
        others = f"  (+{hit.cluster_size - 1} duplicate(s))" if hit.cluster_size > 1 else ""
        day = (hit.published_at or "")[:10]
        print(f"{i}. {hit.title}  [{hit.site}, {day}]{others}")
        print(f"   {hit.url}")
        snippet = html.unescape(re.sub(r"</?mark>", "*", hit.snippet))  # HTML for the page; text here
        print(f"   {snippet[:300]}")


def print_feeds(feeds: list[dict[str, Any]]) -> None:
    counts: dict[str, int] = {}
    for f in feeds:
        counts[f["health"]] = counts.get(f["health"], 0) + 1
    print(f"feeds: {len(feeds)}" + "".join(f"  {k}={v}" for k, v in sorted(counts.items())))
    for f in feeds:
        line = f"  [{f['health']}] {f['url']}  items={f['items_seen']}"
        if f.get("interval"):
            line += f"  every={f['interval']:.0f}s"
        line += f"  next={f['next_poll'] or '-'}  last new={f.get('last_new_item') or '-'}"
        print(line)
        if f["health"] == "failing":
            print(
                f"      failing since {f.get('failing_since')}, {f['consecutive_errors']} error(s) in a row;"
                f" last error: {(f['last_error'] or '')[:160]}"
            )


def fail(message: str) -> int:
    """Say what failed on stderr, in one line; the exit code of a failed command."""
    print(f"newsflow: {message}", file=sys.stderr)
    return 1
