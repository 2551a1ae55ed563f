"""What the commands show on a terminal: rich tables, progress bars and the live status.

Every view has a plain-text twin for pipes and files (the lines scripts, tests and the
README read); a command asks `on_terminal()` which one to print. `--json` bypasses both.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from workers.cli.common import print_feeds, timestamp

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress

    from pipeline.drift import DriftLimits

HEALTH_STYLE = {"ok": "green", "new": "cyan", "paused": "yellow", "failing": "bold red"}


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def on_terminal() -> bool:
    """Whether stdout is a terminal a person reads (rich's view, which honours FORCE_COLOR)."""
    return console().is_terminal


# -- feeds ------------------------------------------------------------------------------------------
def feeds_table(feeds: list[dict[str, Any]]) -> RenderableType:
    from rich.table import Table

    counts: dict[str, int] = {}
    for f in feeds:
        counts[f["health"]] = counts.get(f["health"], 0) + 1
    caption = f"{len(feeds)} feed(s)" + "".join(f"  {k}={v}" for k, v in sorted(counts.items()))
    table = Table(title="Feeds", caption=caption, expand=False)
    for name in ("health", "site", "url", "items", "every", "next poll", "last new item", "last error"):
        table.add_column(name, overflow="fold", justify="right" if name == "items" else "left")
    for f in feeds:
        error = ""
        if f["health"] == "failing":
            error = (
                f"{f['consecutive_errors']} in a row since {f.get('failing_since')}: {(f['last_error'] or '')[:160]}"
            )
        table.add_row(
            f"[{HEALTH_STYLE.get(f['health'], '')}]{f['health']}[/]",
            f.get("site") or "",
            f["url"],
            str(f["items_seen"]),
            f"{f['interval']:.0f}s" if f.get("interval") else "adaptive",
            f["next_poll"] or "-",
            f.get("last_new_item") or "-",
            error,
        )
    return table


def show_feeds(feeds: list[dict[str, Any]]) -> None:
    if on_terminal():
        console().print(feeds_table(feeds))
    else:
        print_feeds(feeds)


# -- dead letters -----------------------------------------------------------------------------------
def _last_line(error: str) -> str:
    return error.strip().splitlines()[-1][:300] if error.strip() else ""


def dead_letters_table(items: list[dict[str, Any]]) -> RenderableType:
    from rich.table import Table

    table = Table(title="Dead letters", caption=f"{len(items)} dead letter(s)")
    for name in ("when", "task", "arguments", "error"):
        table.add_column(name, overflow="fold")
    for item in items:
        args = json.dumps(item["args"], ensure_ascii=False)[:120]
        table.add_row(timestamp(item["at"]), item["task"], args, f"[red]{_last_line(item['error'])}[/]")
    return table


def show_dead_letters(items: list[dict[str, Any]]) -> None:
    if on_terminal():
        console().print(dead_letters_table(items))
        return
    for item in items:
        print(f"{timestamp(item['at'])} {item['task']} {json.dumps(item['args'], ensure_ascii=False)[:120]}")
        print(f"    {_last_line(item['error'])}")
    print(f"{len(items)} dead letter(s)")


# -- drift ------------------------------------------------------------------------------------------
def drift_rule(limits: DriftLimits) -> str:
    """When a window raises the alarm, in words."""
    return (
        f"each {limits.recent_pages} new pages are compared with the baseline: alarm when the median body is"
        f" below {limits.length_ratio:.0%} of it, pages without text rise {limits.no_text_rise * 100:.0f} points,"
        f" or teasers per page pass {limits.teaser_ratio:g}x it + {limits.teaser_floor:g}"
    )


def drift_alarm_text(alarm: dict[str, Any] | None) -> str:
    if alarm is None:
        return "ok"
    return f"ALARM since {timestamp(alarm['at'])}: {'; '.join(alarm['changes'])}"


def drift_table(sites: list[dict[str, Any]], limits: DriftLimits) -> RenderableType:
    from rich.table import Table

    alarms = sum(1 for s in sites if s["alarm"])
    caption = f"{len(sites)} site(s), {alarms} alarm(s); {drift_rule(limits)}"
    table = Table(title="Extraction drift by site", caption=caption)
    for name in ("site", "baseline", "recent", "alarm"):
        table.add_column(name, overflow="fold", justify="right" if name in {"baseline", "recent"} else "left")
    for s in sites:
        style = "bold red" if s["alarm"] else "green"
        table.add_row(
            s["site"],
            f"{s['baseline_pages']}/{s['baseline_target']}",
            f"{s['recent_pages']}/{s['recent_target']}",
            f"[{style}]{drift_alarm_text(s['alarm'])}[/]",
        )
    return table


def show_drift(sites: list[dict[str, Any]], limits: DriftLimits) -> None:
    if on_terminal():
        console().print(drift_table(sites, limits))
        return
    for s in sites:
        print(
            f"{s['site']}  baseline {s['baseline_pages']}/{s['baseline_target']}"
            f"  recent {s['recent_pages']}/{s['recent_target']}  {drift_alarm_text(s['alarm'])}"
        )
    print(f"{len(sites)} site(s) watched; {drift_rule(limits)}")


# -- status -------------------------------------------------------------------------------------------
def status_view(report: dict[str, Any]) -> RenderableType:
    """The whole status on a terminal: a summary table, the drift alarms, events, feeds."""
    from rich.console import Group
    from rich.table import Table

    indexed = report["articles_indexed"]
    work = report["work"]
    summary = Table(title="newsflow status", show_header=False, title_justify="left")
    summary.add_column("what", style="bold")
    summary.add_column("value")
    summary.add_row("redis / search", f"{report['redis']} / {report['search']}")
    summary.add_row(
        "queues", "  ".join(f"{q}={n}" for q, n in report["queues"].items()) + f"  in flight={report['in_flight']}"
    )
    summary.add_row("articles indexed", "unknown (search backend does not answer)" if indexed is None else str(indexed))
    summary.add_row("waiting to index", str(report["waiting_to_index"]))
    dead = report["dead_letters"]
    summary.add_row("dead letters", f"[red]{dead}[/]" if dead else "0")
    summary.add_row("work", f"{work['open']} open ({work['running']} running, {work['waiting']} waiting to retry)")
    summary.add_row("worker restarts", str(report["worker_restarts"]))
    summary.add_row("Redis outages", str(report["redis_outages"]))
    summary.add_row("Redis memory", redis_memory(report))
    parts: list[Any] = [summary]
    if report.get("drift"):
        drift = Table(title="Extraction drift (a site may have changed its layout)", title_style="bold red")
        for name in ("site", "since", "what changed"):
            drift.add_column(name, overflow="fold")
        for alarm in report["drift"]:
            drift.add_row(alarm["site"], timestamp(alarm["at"]), "; ".join(alarm["changes"]))
        parts.append(drift)
    if report["events"]:
        events = Table(title="Recent events", show_header=False, title_justify="left")
        events.add_column("when")
        events.add_column("event")
        for event in report["events"][:5]:
            events.add_row(timestamp(event["at"]), event["message"])
        parts.append(events)
    if report.get("imports"):
        imports = Table(
            title="Imports in progress or stopped at a broken record (the same `newsflow import` goes on)",
            show_header=False,
        )
        imports.add_column("import", overflow="fold")
        for state in report["imports"]:
            imports.add_row(describe_import(state))
        parts.append(imports)
    parts.append(feeds_table(report["feeds"]))
    return Group(*parts)


def describe_import(state: dict[str, str]) -> str:
    from pipeline.state.imports import describe

    return f"{describe(state)}; last moved {timestamp(state.get('updated'))}"


def redis_memory(report: dict[str, Any]) -> str:
    """What Redis holds, in the unit that reads best, beside how many URLs it remembers."""
    size = float(report["redis_memory_bytes"])
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            break
        size /= 1000
    shown = f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
    return f"{shown} ({report['seen_urls']:,} URLs seen within the retention)"


def print_status(report: dict[str, Any]) -> None:
    """The plain-text status (pipes, files): one fact a line, as scripts read it."""
    print(f"redis: {report['redis']}   search: {report['search']}")
    print(
        "queues: " + "  ".join(f"{q}={n}" for q, n in report["queues"].items()) + f"  in flight={report['in_flight']}"
    )
    indexed = report["articles_indexed"]
    print(
        f"articles indexed: {'unknown (search backend does not answer)' if indexed is None else indexed}"
        f"   waiting to index: {report['waiting_to_index']}   dead letters: {report['dead_letters']}"
    )
    work = report["work"]
    print(f"work: {work['open']} open ({work['running']} running, {work['waiting']} waiting to retry)")
    print(f"worker restarts: {report['worker_restarts']}   Redis outages: {report['redis_outages']}")
    print(f"Redis memory: {redis_memory(report)}")
    for alarm in report.get("drift") or []:
        print(f"drift: {alarm['site']} since {timestamp(alarm['at'])}: {'; '.join(alarm['changes'])}")
    for event in report["events"][:5]:
        print(f"  {timestamp(event['at'])} {event['message']}")
    for state in report.get("imports") or []:
        print(f"import {'stopped' if state.get('state') == 'stopped' else 'in progress'}: {describe_import(state)}")
    print("counters: " + ", ".join(f"{k}={v}" for k, v in sorted(report["stats"].items())))
    print_feeds(report["feeds"])


def show_status(report: dict[str, Any]) -> None:
    if on_terminal():
        console().print(status_view(report))
    else:
        print_status(report)


def watch_status(read: Callable[[], dict[str, Any]], every: float = 2.0) -> int:
    """Show the status, refreshed in place every `every` seconds until Ctrl-C (exit 0).

    Off a terminal each refresh is printed in full, after a blank line."""
    from rich.live import Live

    stop = threading.Event()
    try:
        if not on_terminal():
            while True:
                print_status(read())
                print(flush=True)
                stop.wait(every)
        with Live(status_view(read()), console=console(), auto_refresh=False, screen=False) as live:
            while True:
                stop.wait(every)
                live.update(status_view(read()), refresh=True)
    except KeyboardInterrupt as exc:
        if getattr(exc, "signum", signal.SIGINT) != signal.SIGINT:
            raise  # SIGTERM and SIGHUP end the command as they end every other
        return 0


# -- progress ---------------------------------------------------------------------------------------
@contextmanager
def progress_bars() -> Iterator[Progress]:
    """Progress bars on stderr when it is a terminal; silent (but usable) elsewhere."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    err = console(stderr=True)
    bars = Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=False,
    )
    with bars:
        yield bars


def progress_on_stderr() -> bool:
    """Whether progress bars would show (stderr is a terminal)."""
    return console(stderr=True).is_terminal
