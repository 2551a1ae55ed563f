"""Prometheus metrics (prometheus_client): workers observe through Celery signals; the API reads
Redis when scraped and adds the workers' numbers.

Where each number comes from
- Workers, through Celery signals (the tasks know nothing of metrics): how long each stage
  takes (fetch, clean, index, poll), how long messages waited in their queue, task counts by
  stage and outcome, and item-to-searchable latency: from the moment a feed entry is seen
  (its fetch task is published by the poll) to the index batch that made it searchable. The
  moment travels with the item in a message header, from task to task.
- Redis, read at scrape time through the state functions: queue depths, tasks in flight, dead
  letters, articles waiting for the search backend, and the event counters every worker adds
  to (indexed, dropped by reason, dead-lettered, retried). They outlive any process, so only
  the scraped API exports them; a worker exporting them too would count them twice.
- The scraped process itself: prometheus_client's process, platform (Python) and GC collectors.

How a worker's numbers leave it
A Celery worker is several processes (prefork) or threads, so each worker writes
prometheus_client's multiprocess files into a directory of its own under `metrics_dir`
(default `<data dir>/metrics`), locked (flock) for as long as the worker lives.
- One host (the embedded `newsflow run`; compose, whose /data is one volume): the API's
  /metrics merges the directories of live workers, so one scrape target shows everything. A
  dead worker's directory is left out (Prometheus reads its counters leaving as a counter
  reset, as for any restarted process) and the next worker to start deletes it.
- Many hosts without a shared disk: set `worker_metrics_port` and every worker serves its own
  numbers on that port; Prometheus scrapes each worker (service discovery) and the API. A
  worker the API can also see on disk must then run without the port, or it counts twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from celery import current_task
from celery.signals import before_task_publish, task_postrun, task_prerun, worker_init

from pipeline.errors import TransientError
from workers import outages

log = logging.getLogger("newsflow.metrics")
task_log = logging.getLogger("newsflow.tasks")

# Message headers that travel with a task (kept through retries, which copy custom headers).
ENQUEUED_AT = "nf_enqueued_at"  # when this message was published: queue wait, oldest age
SEEN_AT = "nf_seen_at"  # when the feed entry behind this item was seen: item-to-searchable

# Task name -> the stage label of its metrics.
STAGES = {
    "feeds.schedule": "schedule",
    "feeds.poll": "poll",
    "fetch.page": "fetch",
    "process.page": "clean",
    "index.batch": "index",
    "index.sweep": "index",
}
# (publishing task, published task): the published task carries on the same item.
_ITEM_PATH = {
    ("feeds.poll", "fetch.page"),  # the feed entry is seen now
    ("fetch.page", "fetch.page"),  # put off for a busy host
    ("fetch.page", "process.page"),
    ("process.page", "index.batch"),  # the index batch that takes this article
}
LOCK_FILE = "owner.lock"
STALE_AFTER = 3600.0  # seconds an unlocked worker directory is kept before a new worker deletes it

# Seconds: from a cached robots.txt fetch (ms) to a slow page behind a politeness wait (a minute).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# Seconds: an idle pipeline takes well under a second; a backlog or a search backend outage, hours.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)


# The workers' histograms, as /metrics shows them before any worker observed one:
# (name, help, buckets, labelled by stage).
WORKER_HISTOGRAMS = (
    (
        "newsflow_stage_duration_seconds",
        "Time one task of a stage took (fetch includes robots.txt and waits for the host).",
        DURATION_BUCKETS,
        True,
    ),
    (
        "newsflow_queue_wait_seconds",
        "Time a message waited in its queue before a worker started it (past any countdown).",
        LATENCY_BUCKETS,
        True,
    ),
    (
        "newsflow_item_to_searchable_seconds",
        "From a feed entry seen to the index batch that made its article searchable.",
        LATENCY_BUCKETS,
        False,
    ),
)


def stage_of(task_name: str) -> str:
    return STAGES.get(task_name, task_name.split(".", 1)[0])


def worker_dirs(metrics_dir: Path) -> tuple[list[Path], list[Path]]:
    """The worker directories under `metrics_dir`: (live, dead). A live one's lock is held."""
    live: list[Path] = []
    dead: list[Path] = []
    for path in sorted(p for p in metrics_dir.glob("*") if p.is_dir()):
        try:
            fd = os.open(path / LOCK_FILE, os.O_RDONLY)
        except FileNotFoundError:
            continue  # a worker setting its directory up, or something that is not ours
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            live.append(path)
        else:
            dead.append(path)
        finally:
            os.close(fd)
    return live, dead


# -- what the scraped API exports ------------------------------------------------------------


class RuntimeCollector:
    """Redis-held numbers and the search backend's state, read when scraped."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        rt = self.rt
        state = rt.state
        depth = GaugeMetricFamily("newsflow_queue_depth", "Messages waiting in a stage queue.", labels=["queue"])
        for queue, n in state.broker.depths().items():
            depth.add_metric([queue], n)
        yield depth
        oldest = GaugeMetricFamily(
            "newsflow_queue_oldest_seconds", "Age of the oldest message waiting in a stage queue.", labels=["queue"]
        )
        for queue, age in state.broker.oldest_ages(ENQUEUED_AT).items():
            if age is not None:
                oldest.add_metric([queue], age)
        yield oldest
        yield GaugeMetricFamily(
            "newsflow_in_flight",
            "Messages reserved by workers and not yet acknowledged.",
            value=state.broker.in_flight(),
        )
        ledger = state.work.counts()
        work = GaugeMetricFamily(
            "newsflow_work_open", "Work items in the ledger (queued, running, waiting to retry).", labels=["state"]
        )
        work.add_metric(["running"], ledger.running)
        work.add_metric(["waiting"], ledger.waiting)
        work.add_metric(["queued"], max(0, ledger.total - ledger.running - ledger.waiting))
        yield work
        yield GaugeMetricFamily(
            "newsflow_dead_letters", "Tasks that failed for good and wait for an operator.", value=state.dead.count()
        )
        yield GaugeMetricFamily(
            "newsflow_redis_memory_bytes", "Bytes Redis holds (its used_memory).", value=state.used_memory()
        )
        yield GaugeMetricFamily(
            "newsflow_seen_urls", "URLs remembered as seen, within the seen retention.", value=state.seen.count()
        )
        yield GaugeMetricFamily(
            "newsflow_index_pending",
            "Cleaned articles waiting for the search backend to take them.",
            value=state.pending.count(),
        )
        # What matters most while the search backend is down must still be served.
        try:
            articles: int | None = rt.search.count()
        except TransientError as exc:
            outages.SEARCH.hit(exc)  # one warning per outage, not one per scrape
            articles = None
        else:
            outages.SEARCH.over("scrape(s)")
        yield GaugeMetricFamily(
            "newsflow_search_up", "1 when the search backend answers, else 0.", value=0 if articles is None else 1
        )
        if articles is not None:
            yield GaugeMetricFamily("newsflow_articles", "Articles in the search index.", value=articles)
        yield from drift_gauges(state.drift.alarms(), GaugeMetricFamily)
        stats = rt.state.stats()
        yield from event_counters(stats, CounterMetricFamily)

    def describe(self) -> Iterable[Any]:
        return []  # collected fresh on each scrape; nothing to check at registration


def drift_gauges(alarms: list[dict[str, Any]], family: Callable[..., Any]) -> Iterator[Any]:
    """Standing drift alarms: 1 per site and kind of change (a site's extraction changed)."""
    drift = family(
        "newsflow_extraction_drift",
        "1 while a site's extraction departs from its baseline, by kind of change (a redesign?).",
        labels=["site", "kind"],
    )
    since = family(
        "newsflow_extraction_drift_since", "When a site's drift alarm was raised (unix time).", labels=["site"]
    )
    for alarm in alarms:
        for kind in alarm["kinds"]:
            drift.add_metric([alarm["site"], kind], 1)
        since.add_metric([alarm["site"]], alarm["at"])
    yield drift
    yield since


def event_counters(stats: dict[str, int], family: Callable[..., Any]) -> Iterator[Any]:
    """The shared event counters of `StateStore.stats()` as Prometheus counters."""
    yield family("newsflow_indexed", "Articles the search backend took.", value=stats.get("indexed", 0))
    yield family(
        "newsflow_index_batches",
        "Bulk requests the search backend took (indexed over this: articles per request).",
        value=stats.get("index_batches", 0),
    )
    yield family(
        "newsflow_dead_lettered", "Tasks dead-lettered (failed for good), every stage.", value=stats.get("failed", 0)
    )
    yield family("newsflow_retried", "Transient failures retried, every stage.", value=stats.get("retried", 0))
    yield family(
        "newsflow_worker_restarts", "Worker processes restarted by `run`.", value=stats.get("worker_restarts", 0)
    )
    yield family("newsflow_redis_outages", "Redis outages `run` waited out.", value=stats.get("redis_outages", 0))
    dropped = family("newsflow_dropped", "Items dropped on purpose, by reason.", labels=["reason"])
    for name, value in sorted(stats.items()):
        if name.startswith("dropped:"):
            dropped.add_metric([name.removeprefix("dropped:")], value)
    yield dropped
    events = family(
        "newsflow_events", "Every event counter by name (fetched, removed:<reason>, ...).", labels=["event"]
    )
    for name, value in sorted(stats.items()):
        events.add_metric([name], value)
    yield events


def with_zero_histograms(families: list[Any]) -> list[Any]:
    """`families` with every worker histogram of every stage that no worker has written yet at
    zero, so that dashboards and alerts find their series from the start."""
    from prometheus_client.core import HistogramMetricFamily
    from prometheus_client.utils import floatToGoString

    by_name = {family.name: family for family in families}
    for name, doc, buckets, staged in WORKER_HISTOGRAMS:
        family = by_name.get(name)
        if family is None:
            family = HistogramMetricFamily(name, doc, labels=["stage"] if staged else [])
            families.append(family)
        present = {sample.labels.get("stage") for sample in family.samples}
        for stage in sorted(set(STAGES.values())) if staged else [None]:
            if stage in present:
                continue
            zero = HistogramMetricFamily(name, doc, labels=["stage"] if staged else [])
            edges = [(floatToGoString(b), 0.0) for b in buckets]  # type: ignore[no-untyped-call]  # untyped upstream
            zero.add_metric([stage] if stage else [], [*edges, ("+Inf", 0.0)], 0.0)
            family.samples.extend(zero.samples)
    return families


class WorkerFilesCollector:
    """The merged multiprocess files of every live worker under `metrics_dir`."""

    def __init__(self, metrics_dir: Path) -> None:
        self.metrics_dir = metrics_dir

    def collect(self) -> Iterable[Any]:
        from prometheus_client.multiprocess import MultiProcessCollector

        families = []
        if self.metrics_dir.is_dir():
            live, _dead = worker_dirs(self.metrics_dir)
            files = [f for d in live for f in glob.glob(str(d / "*.db"))]
            merged = MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]  # untyped upstream
            families = list(merged)
        return with_zero_histograms(families)

    def describe(self) -> Iterable[Any]:
        return []


def api_registry(rt: Any) -> Any:
    """A registry with the API process's own collectors, Redis' numbers and the workers' files."""
    from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(RuntimeCollector(rt))
    registry.register(WorkerFilesCollector(metrics_dir_of(rt.settings)))
    return registry


def request_latency(registry: Any, routes: Iterable[str]) -> Any:
    """The API's request latency histogram in `registry`, by route, each route at zero."""
    from prometheus_client import Histogram

    histogram = Histogram(
        "newsflow_api_request_duration_seconds",
        "Time the API took to answer a request, by route (its path template).",
        ["route"],
        buckets=DURATION_BUCKETS,
        registry=registry,
    )
    for route in routes:
        histogram.labels(route)
    return histogram


def exposition(registry: Any) -> tuple[bytes, str]:
    """The registry in Prometheus text format, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry), CONTENT_TYPE_LATEST


# -- what a worker observes ------------------------------------------------------------------


class WorkerMetrics:
    """A worker's own metrics. Built once per worker, after the multiprocess directory is set."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        duration, queue_wait, item_latency = (
            Histogram(name, doc, ["stage"] if staged else [], buckets=buckets)
            for name, doc, buckets, staged in WORKER_HISTOGRAMS
        )
        self.duration, self.queue_wait, self.item_latency = duration, queue_wait, item_latency
        self.tasks = Counter(
            "newsflow_tasks", "Tasks run, by stage and outcome (completed, retried, error).", ["stage", "outcome"]
        )
        for stage in set(STAGES.values()):  # at zero until a task of the stage runs
            duration.labels(stage)
            queue_wait.labels(stage)


_worker: WorkerMetrics | None = None
_started: dict[str, float] = {}  # task id -> start time, for the tasks running in this process
_lock_file: IO[bytes] | None = None


def setup_worker(metrics_dir: Path, name: str) -> Path:
    """Give this worker its own locked multiprocess directory and build its metrics.

    Must run before anything imports prometheus_client in this process (it reads
    PROMETHEUS_MULTIPROC_DIR once, at import); the worker_init signal is early enough.
    """
    global _worker, _lock_file
    import sys

    if "prometheus_client" in sys.modules and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        log.warning("worker metrics off: prometheus_client was imported before the worker started")
        return metrics_dir
    metrics_dir.mkdir(parents=True, exist_ok=True)
    _, dead = worker_dirs(metrics_dir)
    now = time.time()
    for path in dead:
        if now - path.stat().st_mtime > STALE_AFTER:
            shutil.rmtree(path, ignore_errors=True)
    own = metrics_dir / f"{name}-{os.getpid()}"
    shutil.rmtree(own, ignore_errors=True)
    own.mkdir()
    _lock_file = open(own / LOCK_FILE, "wb")  # noqa: SIM115 - held open (and locked) for the worker's life
    fcntl.flock(_lock_file.fileno(), fcntl.LOCK_EX)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(own)
    _worker = WorkerMetrics()
    return own


def serve_worker_metrics(port: int, own_dir: Path) -> None:
    """Serve this worker's numbers on `port` (for hosts the API cannot see on disk)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(own_dir))  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    start_http_server(port, registry=registry)
    log.info("worker metrics on port %d", port)


def _header(request: Any, name: str) -> Any:
    headers = getattr(request, "headers", None) or {}
    return headers.get(name, getattr(request, name, None))


@before_task_publish.connect
def _stamp_message(sender: Any = None, headers: dict[str, Any] | None = None, body: Any = None, **_: Any) -> None:
    """Stamp the publish time, and carry the item's seen time along its path."""
    if headers is None or sender is None:
        return
    now = time.time()
    headers[ENQUEUED_AT] = now
    if SEEN_AT in headers:  # a retry: its copy of the headers came along
        return
    parent = current_task.name if current_task else None
    if (parent, sender) not in _ITEM_PATH or _is_reclean(sender, body):
        return
    seen = now if parent == "feeds.poll" else _header(current_task.request, SEEN_AT)
    if seen is not None:
        headers[SEEN_AT] = seen


def _is_reclean(task_name: str, body: Any) -> bool:
    """A page cleaned again because its site's boilerplate changed: not a new item."""
    if task_name != "process.page":
        return False
    with contextlib.suppress(TypeError, IndexError, KeyError, AttributeError):
        return bool(body[0][0].get("reason") == "reclean")
    return False


@task_prerun.connect
def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task is None or task_id is None:
        return
    now = time.time()
    _started[task_id] = now
    enqueued = _header(task.request, ENQUEUED_AT)
    if _worker is not None and isinstance(enqueued, (int, float)):
        ready = max(float(enqueued), _timestamp(getattr(task.request, "eta", None)) or 0.0)
        _worker.queue_wait.labels(stage_of(task.name)).observe(max(0.0, now - ready))


@task_postrun.connect
def _task_done(
    task_id: str | None = None, task: Any = None, retval: Any = None, state: str | None = None, **_: Any
) -> None:
    """One log line per task with its outcome, and the task's metrics."""
    if task is None or task_id is None:
        return
    now = time.time()
    stage = stage_of(task.name)
    started = _started.pop(task_id, None)
    took = now - started if started is not None else None
    outcome = {"SUCCESS": "completed", "RETRY": "retried", "FAILURE": "error"}.get(state or "", (state or "").lower())
    task_log.info("%s %s in %.3f s", task.name, outcome, took or 0.0, extra={"outcome": outcome, "duration": took})
    if _worker is None:
        return
    if took is not None:
        _worker.duration.labels(stage).observe(took)
    _worker.tasks.labels(stage, outcome).inc()
    seen = _header(task.request, SEEN_AT)
    took_articles = task.name == "index.batch" and state == "SUCCESS" and isinstance(retval, int) and retval > 0
    if took_articles and isinstance(seen, (int, float)):
        _worker.item_latency.observe(max(0.0, now - float(seen)))


def _timestamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def metrics_dir_of(settings: Any) -> Path:
    return Path(settings.metrics_dir or settings.data_dir / "metrics")


@worker_init.connect
def _worker_starts(sender: Any = None, **_: Any) -> None:
    """In the worker's main process, before the pool starts: its directory and its metrics."""
    from workers.runtime import get_runtime

    settings = get_runtime().settings
    name = str(getattr(sender, "hostname", None) or "worker").replace("@", "-").replace("/", "-")
    own = setup_worker(metrics_dir_of(settings), name)
    if settings.worker_metrics_port and _worker is not None:
        serve_worker_metrics(settings.worker_metrics_port, own)
