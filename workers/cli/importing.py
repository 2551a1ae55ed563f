"""`newsflow import FILE-or-DIR...`: backfill from WARC files (CC-NEWS, a crawl, `export --warc`).

The pages go through the queues like fetched ones (`pipeline.importing`). Who cleans them:
workers already consuming the `process` queue (a `newsflow run` on the same data directory,
or the worker hosts of the deployment `REDIS_URL` names) when some answer; otherwise the
import starts its own, as `run --once` does, and stops them when it is done. Either way it
waits until its pages are cleaned and indexed, then prints a summary.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workers.cli.common import date, open_runtime, whole_number

if TYPE_CHECKING:
    from pipeline.importing import Importer, ImportFilters, ImportSource
    from pipeline.settings import Settings
    from workers.runtime import Runtime

WINDOW = 400  # pages of one import in the ledger at most: a big archive waits in its file, not in Redis
PLAIN_EVERY = 10.0  # seconds between two progress lines off a terminal


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import",
        help="backfill from WARC files: clean and index their HTML pages (no fetching)",
        description="Read WARC and WARC.gz files (CC-NEWS, a crawl, `newsflow export --warc`) and send each"
        " archived HTML page (a 200 response) through cleaning, near-duplicates and the index. Resumable:"
        " the same command again goes on where it stopped, and never indexes a page twice.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="FILE-or-DIR", help="WARC files, or directories of them")
    p.add_argument("--site", help="only pages of this site (its host without www., as `search --site` names it)")
    p.add_argument("--language", help="the language of pages that do not say theirs")
    p.add_argument(
        "--since",
        type=date,
        metavar="DATE",
        help="only pages archived (WARC-Date) from this time: YYYY-MM-DD or ISO 8601",
    )
    p.add_argument(
        "--until", type=date, metavar="DATE", help="only pages archived up to this time: YYYY-MM-DD or ISO 8601"
    )
    p.add_argument(
        "--workers",
        choices=("auto", "start", "none"),
        default="auto",
        help="auto (default): use workers that consume the queues if some answer, else start them;"
        " start: always start them here; none: only publish, for workers elsewhere",
    )
    p.add_argument(
        "--window",
        type=whole_number(1, 100_000),
        default=WINDOW,
        metavar="N",
        help=f"pages handed on and not yet cleaned at most (default {WINDOW})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="give up waiting for the workers after this long",
    )
    p.set_defaults(func=cmd_import)


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.importing import ImportFilters, find_sources

    filters = ImportFilters(site=args.site, since=args.since, until=args.until, language=args.language)
    sources = find_sources(args.paths, filters)
    with open_runtime(settings) as rt:
        rt.raw_store.check()
        rt.state.ping()  # Redis not answering at the start: a setting to fix (exit 75)
        summary = run_import(rt, sources, filters, workers=args.workers, window=args.window, timeout=args.timeout)
    print_import_summary(summary)
    errors = summary["tally"].errors
    for error in errors:
        print(f"newsflow: {error}; the records before it were imported", file=sys.stderr)
    return 1 if errors else 0


def consuming_workers(timeout: float = 1.0) -> list[str]:
    """The Celery workers that answer and consume the `process` queue (their node names)."""
    from workers.celery_app import app

    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception:  # no broker yet, or it does not answer in time: none to count on
        return []
    return sorted(node for node, queues in replies.items() if any(q.get("name") == "process" for q in queues or []))


def run_import(
    rt: Runtime,
    sources: list[ImportSource],
    filters: ImportFilters,
    *,
    workers: str = "auto",
    window: int = WINDOW,
    timeout: float = 3600.0,
) -> dict[str, Any]:
    """Import the files, with workers of this command or others, and wait for their pages."""
    from pipeline.importing import Importer
    from workers.handoff import publish
    from workers.service import Tending, Watch, wait_until_idle, worker_env
    from workers.supervisor import WorkerGroup, default_workers

    state = rt.state
    before = state.stats()
    size_before = rt.index_size()
    todo = [s for s in sources if (state.imports.get(s.id) or {}).get("state") != "done"]
    found = consuming_workers() if workers == "auto" and todo else []
    group = None
    watch = Watch()
    tend: Callable[[], None]
    if todo and (workers == "start" or (workers == "auto" and not found)):
        # As `run --once`: supervised workers, reconciled every second.
        group = WorkerGroup(
            rt.redis_url,
            rt.settings.data_dir,
            default_workers(),
            rt.settings.data_dir / "logs",
            restart_limit=rt.settings.worker_restart_limit,
        )
        tend = Tending(rt, group, watch, 1.0, grace=min(rt.settings.work_grace, 5.0))
    else:
        tend = Reconciling(rt)

    def pause() -> None:
        """Between batches: look after the workers, and wait while the pipeline is behind."""
        deadline = time.monotonic() + timeout
        while True:
            tend()
            if (open_pages := importer.outstanding()) < window:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"import: {open_pages} page(s) waited {timeout:.0f} s for workers to take them; they stay"
                    " queued, and the same command goes on from where it stopped"
                )
            time.sleep(0.1)

    importer = Importer(
        state,
        rt.raw_store,
        filters,
        lambda items: publish(state, items),
        pause=pause,
        max_bytes=rt.settings.max_page_bytes,
    )
    started = time.monotonic()
    progress = ImportProgress(rt, importer, sources, before)
    try:
        if group is not None:
            rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
            group.start(worker_env(rt))
        with progress:
            importer.run(sources)
            if group is not None:
                if not wait_until_idle(rt, group, timeout, watch):
                    raise RuntimeError(f"import: work still queued after {timeout:.0f} s; see `newsflow status`")
            elif not _wait_for_others(rt, importer, tend, timeout):
                raise RuntimeError(
                    f"import: {importer.outstanding()} page(s) still waiting for workers after {timeout:.0f} s;"
                    " they stay queued (see `newsflow status`)"
                )
    finally:
        if group is not None:
            group.stop()
    after = state.stats()
    size = rt.index_size()
    return {
        "files": len(sources),
        "workers": "started here" if group else ", ".join(found) or ("elsewhere" if todo else "none needed"),
        "tally": importer.tally,
        "stats": {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)},
        "index_size": size,
        "new_articles": size - size_before if size is not None and size_before is not None else None,
        "pending": state.pending.count(),
        "dead_letters": state.dead.count(),
        "worker_restarts": watch.worker_restarts,
        "seconds": round(time.monotonic() - started, 2),
    }


class Reconciling:
    """With workers elsewhere, the import still reconciles now and then: a killed import may
    have left work recorded but never published, and a deployment without a scheduler (or
    workers left behind by a killed import) would not publish it."""

    def __init__(self, rt: Runtime, every: float = 5.0) -> None:
        self.rt, self.every = rt, every
        self.next = 0.0

    def __call__(self) -> None:
        from workers.handoff import reconcile

        if time.monotonic() >= self.next:
            reconcile(self.rt.state, grace=self.rt.settings.work_grace, lease=self.rt.settings.work_lease)
            self.next = time.monotonic() + self.every


def _wait_for_others(rt: Runtime, importer: Importer, tend: Callable[[], None], timeout: float) -> bool:
    """Workers elsewhere do the work: wait until this import's pages left the ledger and the
    articles waiting for the index (up to the index patience) were taken."""
    deadline = time.monotonic() + timeout
    while importer.outstanding():
        if time.monotonic() > deadline:
            return False
        tend()
        time.sleep(0.25)
    patience = time.monotonic() + rt.settings.index_patience
    while rt.state.pending.count() and time.monotonic() < min(deadline, patience):
        time.sleep(0.25)
    return True


class ImportProgress:
    """A bar of the bytes read, with records, pages queued, articles cleaned (and their rate)
    and written to the index, drops by reason, on a terminal (stderr); a plain line every
    `PLAIN_EVERY` seconds elsewhere. The summary at the end counts the articles indexed."""

    def __init__(self, rt: Runtime, importer: Importer, sources: list[ImportSource], before: dict[str, int]) -> None:
        self.rt, self.importer, self.before = rt, importer, before
        self.total = sum(s.size for s in sources)
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ImportProgress:
        from workers.cli.display import progress_on_stderr

        self.terminal = progress_on_stderr()
        if self.terminal:
            self.bars = _bars()
            self.bars.start()
            self.task = self.bars.add_task("archive read", total=self.total)
        self._thread = threading.Thread(target=self._loop, name="import-progress", daemon=True)
        self._thread.start()
        return self

    def line(self) -> str:
        tally = self.importer.tally
        now = self.rt.state.stats()
        delta = {k: now.get(k, 0) - self.before.get(k, 0) for k in now}
        cleaned, writes = delta.get("cleaned", 0), delta.get("indexed", 0)
        dropped = dict(tally.skipped)
        for key, n in delta.items():
            if key.startswith("dropped:") and n:
                dropped[key.split(":", 1)[1]] = dropped.get(key.split(":", 1)[1], 0) + n
        rate = cleaned / max(1e-6, time.monotonic() - self.started)
        drops = ", ".join(f"{k} {v}" for k, v in sorted(dropped.items())) or "none"
        # Index writes include pages cleaned again as a site's boilerplate was learned.
        return (
            f"{tally.records} records read, {tally.queued} pages queued, {cleaned} cleaned ({rate:.1f}/s),"
            f" {writes} index writes; dropped: {drops}"
        )

    def update(self) -> None:
        text = self.line()
        if self.terminal:
            self.bars.stats = text
            self.bars.update(self.task, completed=self.importer.tally.bytes_read)
        else:
            print(f"import: {text}", file=sys.stderr, flush=True)

    def _loop(self) -> None:
        every = 0.5 if self.terminal else PLAIN_EVERY
        while not self._stop.wait(every):
            with suppress(Exception):  # a line that misses a beat (Redis away) must not stop the import
                self.update()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with suppress(Exception):
            self.update()  # the last figures, in a pipe too
        if self.terminal:
            self.bars.stop()


def _bars() -> Any:
    """A bar of the archive's bytes read, and under it a line of what became of its records."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn
    from rich.text import Text

    from workers.cli.display import console

    class Bars(Progress):
        stats = ""

        def get_renderables(self) -> Any:
            yield self.make_tasks_table(self.tasks)
            yield Text(self.stats, overflow="fold")

    return Bars("{task.description}", BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=console(stderr=True))


def print_import_summary(summary: dict[str, Any]) -> None:
    tally = summary["tally"]
    stats = summary["stats"]
    dropped = {k.split(":", 1)[1]: v for k, v in stats.items() if k.startswith("dropped:")}
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(tally.skipped.items())) or "none"
    already = tally.files_before
    print(f"files:             {summary['files']}" + (f" ({already} read to the end before)" if already else ""))
    print(f"records read:      {tally.records}")
    print(f"pages queued:      {tally.queued}")
    print(f"records skipped:   {skipped}")
    writes = stats.get("indexed", 0)
    new = summary["new_articles"]
    if summary["index_size"] is None:
        print(f"articles indexed:  unknown: the search backend does not answer ({writes} writes)")
    else:
        print(f"articles indexed:  {new} new (index holds {summary['index_size']}; {writes} writes)")
    if summary["pending"]:
        print(f"waiting to index:  {summary['pending']} (kept in Redis until the search backend takes them)")
    print(f"near-duplicates:   {stats.get('near_duplicates', 0)}")
    print("dropped:           " + (", ".join(f"{k} {v}" for k, v in sorted(dropped.items())) or "none"))
    print(f"failed:            {stats.get('failed', 0)} (dead letters: {summary['dead_letters']})")
    print(f"workers:           {summary['workers']}")
    if summary["worker_restarts"]:
        print(f"worker restarts:   {len(summary['worker_restarts'])} ({summary['worker_restarts'][-1]})")
    seconds = summary["seconds"]
    count = new if new is not None else writes
    print(f"took:              {seconds} s ({count / max(seconds, 1e-6):.1f} articles/s)")
