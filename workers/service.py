"""The long-running side of `newsflow run`: start workers, poll feeds, supervise, wait, stop.

The command line parses arguments and prints; this module owns the orchestration, so the
supervision of worker processes and the waits through a Redis outage live in one place.
`run --once` ends when the work ledger is empty, no queue holds a message, no worker holds
one, and the documents left pending (if any) wait for a search backend that does not answer.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline import scheduling, stages
from pipeline.errors import PermanentError, TransientError
from pipeline.feeds import FeedConfig
from pipeline.state import is_outage
from workers.handoff import flush_held, reconcile, recover_dead_run, recover_node, submit
from workers.runlock import RunLock
from workers.runtime import Runtime
from workers.supervisor import WorkerGroup, WorkerSpec, default_workers

log = logging.getLogger("newsflow")
RECONCILE_EVERY = 1.0  # seconds between two reconciliations while `run` waits
TICK = 0.25
SWEEP_EVERY = 2.0  # seconds between two sweeps while documents wait for the search backend


class RunStopped(RuntimeError):
    """`run` could not go on (Redis gone past the patience, timeout); `exit_code` for the CLI."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Watch:
    """What the run saw happen: restarts and outages, for the summary."""

    worker_restarts: list[str] = field(default_factory=list)
    redis_outages: list[float] = field(default_factory=list)


def run_pipeline(
    rt: Runtime,
    feeds: list[FeedConfig],
    *,
    once: bool,
    timeout: float = 1800.0,
    on_start: Callable[[], None] | None = None,
    specs: list[WorkerSpec] | None = None,
) -> dict[str, Any]:
    """Start workers, poll feeds (once, or on schedule until a signal), stop workers.

    The feeds given are registered first; `once` polls every registered feed that is not
    paused (those of `feeds load/add/import` included). One run per data directory: a second
    one raises RunBusy (`runlock`)."""
    settings = rt.settings
    with RunLock(settings.data_dir) as lock:
        if lock.ended:
            print(
                f"newsflow: ended {len(lock.ended)} process(es) that a run which died left behind "
                f"(pids {', '.join(map(str, lock.ended))})",
                file=sys.stderr,
            )
        return _run_locked(rt, feeds, lock, once=once, timeout=timeout, on_start=on_start, specs=specs)


def _run_locked(
    rt: Runtime,
    feeds: list[FeedConfig],
    lock: RunLock,
    *,
    once: bool,
    timeout: float,
    on_start: Callable[[], None] | None,
    specs: list[WorkerSpec] | None,
) -> dict[str, Any]:
    from workers import tasks

    settings = rt.settings
    watch = Watch()
    # A Redis that does not answer at the start is a setting to fix (the command says which, and
    # exits 75); only once the run is going is an outage waited out.
    rt.state.ping()
    if lock.dead_run:
        recover_dead_run(rt.state, lock.dead_run)
    before = rt.state.stats()
    size_before = rt.index_size()
    scheduling.register_feeds(rt.state, feeds, time.time())
    to_poll = [f for f in scheduling.all_feeds(rt.state) if not rt.state.feed_state(f.id).get("paused")]
    workers = list(specs or default_workers())
    if not once:
        workers.append(WorkerSpec("beat", beat=True))
    group = WorkerGroup(
        rt.redis_url,
        settings.data_dir,
        workers,
        settings.data_dir / "logs",
        restart_limit=settings.worker_restart_limit,
        record=lock.record,
    )
    group.start(worker_env(rt))
    started = time.monotonic()
    started_at = time.time()
    try:
        if on_start:
            on_start()
        # Articles an earlier run left waiting for the search backend go first.
        tasks.sweep_pending.delay()
        if once:
            submit(rt.state, [stages.poll_work(f.model_dump(), f.id, scheduled=False) for f in to_poll])
            if not wait_until_idle(rt, group, timeout, watch):
                raise RunStopped(f"work still queued after {timeout:.0f} s; see `newsflow status`")
        else:
            _serve_forever(rt, group, watch)
    finally:
        group.stop()
    after = _guard(rt, watch, rt.state.stats)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    _make_visible(rt)
    polled = [f for f in to_poll if float(rt.state.feed_state(f.id).get("last_success") or 0) >= started_at]
    return {
        "feeds": len(to_poll) if once else len(scheduling.all_feeds(rt.state)),
        "feeds_polled": len(polled),
        "seconds": round(time.monotonic() - started, 2),
        "stats": {k: v for k, v in sorted(delta.items()) if v},
        "index_size": (size := rt.index_size()),
        "new_articles": size - size_before if size is not None and size_before is not None else None,
        "pending": rt.state.pending.count(),
        "dead_letters": rt.state.dead.count(),
        "worker_restarts": watch.worker_restarts,
        "redis_outages": watch.redis_outages,
    }


def worker_env(rt: Runtime) -> dict[str, str]:
    """The whole settings of this process, for the workers it starts."""
    env = rt.settings.as_env()
    env["REDIS_URL"] = rt.redis_url
    env.pop("NEWSFLOW_REDIS_URL", None)
    return env


def _guard(rt: Runtime, watch: Watch, step: Callable[[], Any]) -> Any:
    """Run `step`; while Redis does not answer, wait (up to the patience), then run it again."""
    patience = rt.settings.redis_patience
    while True:
        try:
            return step()
        except Exception as exc:
            if not is_outage(exc):
                raise
            began = time.monotonic()
            print(
                f"newsflow: {rt.where_redis()} is unavailable ({exc}); waiting up to {patience:.0f} s",
                file=sys.stderr,
            )
            if not rt.state.wait_available(patience):
                raise RunStopped(
                    f"{rt.where_redis()} unavailable for {patience:.0f} s; stopping. "
                    "Queued work is kept in Redis (with append-only persistence) and goes on at the next run.",
                    exit_code=75,  # EX_TEMPFAIL, as for every command that finds Redis away
                ) from None
            lasted = time.monotonic() - began
            watch.redis_outages.append(round(lasted, 1))
            print(f"newsflow: Redis is back after {lasted:.0f} s; going on", file=sys.stderr)
            rt.state.counters.event(
                "redis_outages", f"Redis unavailable for {lasted:.0f} s; run waited", seconds=lasted
            )


def supervise(rt: Runtime, group: WorkerGroup, watch: Watch) -> None:
    """Restart dead workers and put back what they held."""
    for death in group.check():
        recover_node(rt.state, death.node)
        message = f"worker {death.name} exited (code {death.returncode}); restarted"
        watch.worker_restarts.append(message)
        rt.state.counters.event("worker_restarts", message, worker=death.name, code=death.returncode)
        print(f"newsflow: {message}", file=sys.stderr)
    group.restart_due()


class Tending:
    """One step of looking after a run: restart dead workers, and every `every` seconds
    reconcile the ledger with the queues (work left by `grace` seconds counts as lost)."""

    def __init__(self, rt: Runtime, group: WorkerGroup, watch: Watch, every: float, grace: float) -> None:
        self.rt, self.group, self.watch = rt, group, watch
        self.every, self.grace = every, grace
        self.next_reconcile = 0.0

    def __call__(self) -> None:
        supervise(self.rt, self.group, self.watch)
        now = time.monotonic()
        if now >= self.next_reconcile:
            reconcile(self.rt.state, grace=self.grace, lease=self.rt.settings.work_lease)
            self.next_reconcile = now + self.every


def wait_until_idle(rt: Runtime, group: WorkerGroup, timeout: float, watch: Watch | None = None) -> bool:
    """Supervise and reconcile until all work is done; False on timeout.

    Done: the ledger is empty, no queue holds a message and no worker holds one, on three
    checks in a row. Messages still held when everything else is done are acknowledgements
    lost in an outage: they are put back and run again (harmlessly). Documents still pending
    are swept every couple of seconds for up to `index_patience` (a backend back from a short
    outage takes them); what is still pending then waits for the search backend, and is said.
    """
    watch = watch or Watch()
    state = rt.state
    settings = rt.settings
    deadline = time.monotonic() + timeout
    tend = Tending(rt, group, watch, RECONCILE_EVERY, grace=min(settings.work_grace, 5.0))
    quiet = 0
    pending_since: float | None = None
    swept_at = 0.0
    held_since: float | None = None

    def tick() -> bool:
        nonlocal quiet, pending_since, swept_at, held_since
        tend()
        now = time.monotonic()
        ledger = state.work.counts()
        queued = sum(state.broker.depths().values())
        held = state.broker.in_flight()
        if ledger.total or queued:
            quiet, held_since = 0, None
            return False
        if held:
            held_since = held_since or now
            if now - held_since > 5.0:
                flush_held(state)
                held_since = None
            quiet = 0
            return False
        held_since = None
        quiet += 1
        if quiet < 3:
            return False
        if not state.pending.count():
            return True
        pending_since = pending_since or now
        if now - pending_since >= settings.index_patience:
            return True  # the backend is away for longer: the summary says what waits
        if now - swept_at >= SWEEP_EVERY:
            from workers import tasks

            swept_at, quiet = now, 0
            tasks.sweep_pending.delay()
        return False

    while time.monotonic() < deadline:
        if _guard(rt, watch, tick):
            return True
        time.sleep(TICK)
    return False


def _serve_forever(rt: Runtime, group: WorkerGroup, watch: Watch) -> None:
    """Supervise and reconcile until SIGTERM or SIGINT; the scheduler (beat) polls the feeds."""
    stop = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print("newsflow: running; Ctrl-C stops", file=sys.stderr)
    tend = Tending(rt, group, watch, 2 * RECONCILE_EVERY, grace=rt.settings.work_grace)
    while not stop:
        _guard(rt, watch, tend)
        time.sleep(0.5)


def _make_visible(rt: Runtime) -> None:
    """Elasticsearch shows a write to searches (and counts) at its index's next refresh, up to
    a second later, and a month's first write lands in a new index: refresh before counting."""
    try:
        refresh = getattr(rt.search, "refresh_now", None)  # opening the backend may fail too
        if refresh is not None:
            refresh()
    except (TransientError, PermanentError) as exc:
        log.info("search backend not refreshed before the count: %s", exc)


def print_summary(summary: dict[str, Any]) -> None:
    stats = summary["stats"]
    dropped = {k.split(":", 1)[1]: v for k, v in stats.items() if k.startswith("dropped:")}
    removed = {k.split(":", 1)[1]: v for k, v in stats.items() if k.startswith("removed:")}
    polls = stats.get("feeds_polled", 0)
    polled = summary.get("feeds_polled", polls)
    extra = f" ({polls} polls: a poll cut short by a fault runs again)" if polls > polled else ""
    print(f"feeds polled:      {polled} of {summary['feeds']}{extra}")
    print(f"new article URLs:  {stats.get('urls_queued', 0)}")
    print(f"pages fetched:     {stats.get('fetched', 0)}")
    writes = stats.get("indexed", 0)
    if summary["index_size"] is None:
        print(f"articles indexed:  unknown: the search backend does not answer ({writes} writes)")
    else:
        print(
            f"articles indexed:  {summary['new_articles']} new (index holds {summary['index_size']}; "
            f"{writes} writes, re-cleaned pages included)"
        )
    if summary["pending"]:
        print(
            f"waiting to index:  {summary['pending']} (kept in Redis until the search backend takes them; "
            "the scheduler sweeps every minute, and the next run starts with them)"
        )
    print(f"near-duplicates:   {stats.get('near_duplicates', 0)}")
    print("dropped:           " + (", ".join(f"{k} {v}" for k, v in sorted(dropped.items())) or "none"))
    print("blocks removed:    " + (", ".join(f"{k} {v}" for k, v in sorted(removed.items())) or "none"))
    print(f"failed:            {stats.get('failed', 0)} (dead letters: {summary['dead_letters']})")
    restarts = summary.get("worker_restarts") or []
    outages = summary.get("redis_outages") or []
    if restarts:
        print(f"worker restarts:   {len(restarts)} ({restarts[-1]})")
    if outages:
        print(f"Redis outages:     {len(outages)} (waited {', '.join(f'{s:g} s' for s in outages)})")
    print(f"took:              {summary['seconds']} s")
