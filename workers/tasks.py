"""Celery tasks: short adapters from a message to one function of `pipeline/`.

Every stage task is a work item of the ledger (`pipeline.state.work`); `StageTask` maps its
outcome the same way for every stage, each in one Redis transaction with the item's exit
from the ledger:

  done         -> `handoff.finish`: the next stage's items enter the ledger, then are published
  Dropped      -> counted by reason (`dropped:<reason>`)
  HostBusy     -> the item waits in the ledger until the host may be asked (no retry spent)
  TransientError -> the item waits an exponential back-off; dead-lettered after max retries
  PermanentError -> dead letter with the error
  a Redis outage -> not an outcome: the task waits for Redis and runs again (idempotent);
                   logged once when it begins and once when it ends (`outages`)
  anything else  -> a bug: dead letter with its traceback

Nothing escapes to kill the worker, and a task never waits on another task's result.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from celery import Task
from celery.exceptions import Reject

from pipeline import ingest, scheduling, stages
from pipeline.errors import Dropped, HostBusy, PermanentError, TransientError
from pipeline.feeds import FeedConfig
from pipeline.state import DeadLetter, WorkItem, is_outage
from workers import outages
from workers.celery_app import app
from workers.handoff import finish, reconcile, submit
from workers.logs import url_of
from workers.runtime import Runtime, get_runtime

log = logging.getLogger("newsflow.tasks")
MAX_DEFERRALS = 200  # an item put off this many times for a busy host is given up (dead-lettered)
GATHER_POLL = 0.05  # seconds between two looks at the pending count while an index batch fills
GATHER_SLACK = 5.0  # seconds the gather lease outlives the wait, for a waiter slowed down


@dataclass
class Handoff:
    """What a stage hands on: items to record and publish, items already recorded (publish
    only), documents for the index."""

    add: list[WorkItem] = field(default_factory=list)
    recorded: list[WorkItem] = field(default_factory=list)
    index: dict[str, str] = field(default_factory=dict)


if TYPE_CHECKING:  # celery-types makes Task generic; at run time it is not subscriptable
    _Task = Task[Any, Any]
else:
    _Task = Task


class StageTask(_Task):
    abstract = True
    ledgered = True  # False: a trigger (index, sweep, schedule) whose state lives elsewhere

    @property
    def rt(self) -> Runtime:
        return get_runtime()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        rt = self.rt
        patience = rt.settings.redis_patience
        while True:
            began = time.monotonic()
            try:
                done = self._run_once(rt, args, kwargs)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                outages.REDIS.hit(exc)  # one warning per outage, not one per task
                if not rt.state.wait_available(patience):
                    log.error(
                        "%s %s: Redis unavailable for %.0f s; the work stays in the ledger and is delivered again",
                        self.name,
                        self._what(kwargs),
                        patience,
                    )
                    raise Reject(f"Redis unavailable for {patience:.0f} s", requeue=True) from None
                continue
            outages.REDIS.over("task(s)", began)
            return done

    def _what(self, kwargs: dict[str, Any]) -> str:
        return url_of((), kwargs) or ""

    def _item(self, rt: Runtime, kwargs: dict[str, Any]) -> WorkItem:
        """This task's ledger item (or one rebuilt from the message, when the ledger has none:
        a duplicate delivery, or a record lost with Redis's last second of writes)."""
        work_id = self.request.id or ""
        return rt.state.work.get(work_id) or WorkItem(id=work_id, task=self.name, kwargs=dict(kwargs))

    def _run_once(self, rt: Runtime, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        state = rt.state
        item = self._item(rt, kwargs) if self.ledgered else None
        if item is not None:
            tag = str((self.request.properties or {}).get("delivery_tag") or "")
            state.work.start(item.id, str(self.request.hostname or ""), tag, time.time())
        done = item.id if item is not None else None
        try:
            handoff = self.run(*args, **kwargs)
        except Dropped as exc:
            finish(state, done=done)
            state.incr(f"dropped:{exc.reason}")
            log.info("%s dropped: %s", self.name, exc, extra={"outcome": f"dropped:{exc.reason}"})
            return None
        except HostBusy as exc:
            if item is None:
                raise
            self._defer(rt, item, exc)
            return None
        except TransientError as exc:
            if item is None:
                raise
            self._retry_later(rt, item, exc)
            return None
        except PermanentError as exc:
            self._dead(rt, item, args, kwargs, str(exc))
            log.error("%s: %s; dead-lettered", self.name, exc, extra={"outcome": "dead-lettered"})
            return None
        except Exception as exc:
            if is_outage(exc):
                raise
            self._dead(rt, item, args, kwargs, "".join(traceback.format_exception(exc)))
            log.exception("%s failed unexpectedly; dead-lettered", self.name, extra={"outcome": "dead-lettered"})
            return None
        if not isinstance(handoff, Handoff):
            return handoff
        finish(state, done=done, add=handoff.add, recorded=handoff.recorded, index=handoff.index)
        if handoff.index:
            publish_index()
        return None

    def _dead(
        self, rt: Runtime, item: WorkItem | None, args: tuple[Any, ...], kwargs: dict[str, Any], error: str
    ) -> None:
        shown = list(args) or [kwargs.get("url") or kwargs.get("page") or kwargs.get("feed") or kwargs]
        letter = DeadLetter(task=self.name, error=error, work=item, args=shown)
        rt.state.commit(done=item.id if item else None, dead=letter)

    def _defer(self, rt: Runtime, item: WorkItem, exc: HostBusy) -> None:
        """Put the item off until the host may be asked, without spending one of its retries."""
        if item.deferrals + 1 > MAX_DEFERRALS:
            self._dead(rt, item, (), item.kwargs, f"{exc} (put off {MAX_DEFERRALS} times; giving up)")
            return
        wait = exc.retry_after or 1.0
        delay = wait + random.uniform(0, max(1.0, wait * 0.2))
        rt.state.commit(defer=(item.put_off(str(exc)), time.time() + delay))
        rt.state.incr(f"deferred:{exc.reason}")
        log.info("%s: %s; put off %.0f s", self.name, exc, delay, extra={"outcome": "deferred"})

    def _retry_later(self, rt: Runtime, item: WorkItem, exc: TransientError) -> None:
        limit = rt.settings.max_retries
        attempt = item.attempts + 1
        if attempt > limit:
            self._dead(rt, item, (), item.kwargs, f"{exc} (gave up after {limit} retries)")
            log.error(
                "%s: %s (gave up after %d retries), dead-lettered",
                self.name,
                exc,
                limit,
                extra={"outcome": "dead-lettered"},
            )
            return
        delay = _backoff(attempt, rt.settings.retry_backoff_max, exc.retry_after)
        rt.state.commit(defer=(item.failed(str(exc)), time.time() + delay))
        rt.state.incr("retried")
        log.warning(
            "%s: %s (attempt %d/%d), retrying in %.0f s",
            self.name,
            exc,
            attempt,
            limit,
            delay,
            extra={"outcome": "retried"},
        )


def _backoff(attempt: int, cap: float, hint: float | None) -> float:
    base = min(cap, 2.0**attempt)
    delay = base * random.uniform(0.5, 1.0)
    return min(cap, max(delay, hint or 0.0))


def publish_index() -> None:
    """Ask for an index batch (a trigger: the pending documents themselves wait in Redis)."""
    try:
        index.delay()
    except Exception as exc:  # the sweep indexes what a lost trigger leaves
        log.warning("could not queue an index batch now (%s); the sweep will index", exc)


# -- feeds ------------------------------------------------------------------------------------------
@app.task(base=StageTask, name="feeds.schedule", bind=True, ledgered=False)
def schedule_due_feeds(self: StageTask) -> int:
    """Queue a poll for every feed whose next-poll time has come (run by beat); paused feeds are not due."""
    rt = self.rt
    due = scheduling.claim_due(rt.state, time.time())
    return submit(rt.state, [stages.poll_work(f.model_dump(), f.id, scheduled=True) for f in due])


@app.task(base=StageTask, name=stages.POLL, bind=True)
def poll(self: StageTask, feed: dict[str, Any], reschedule: bool = True) -> Handoff:
    """Poll one feed; the fetch work of each new article URL is in the ledger already: publish it.

    A scheduled poll plans the feed's next poll whatever happens, and its failures live in the
    feed's health; a one-off poll (`run --once`) is retried and dead-lettered like any task.
    """
    rt = self.rt
    config = FeedConfig.model_validate(feed)
    try:
        result = scheduling.poll_and_plan(
            config,
            fetcher=rt.polite_fetcher,
            state=rt.state,
            policy=scheduling.PollPolicy.from_settings(rt.settings),
            max_bytes=rt.settings.max_feed_bytes,
            verify_every=rt.settings.feed_verify_every,
            plan=reschedule,
        )
    except (TransientError, PermanentError, Dropped) as exc:
        if not reschedule:
            raise
        log.warning(
            "poll %s: %s; next poll planned%s", config.url, exc, "" if isinstance(exc, HostBusy) else " with back-off"
        )
        return Handoff()
    rt.state.incr("urls_queued", len(result.new_work))
    return Handoff(recorded=result.new_work)


# -- fetch, process ---------------------------------------------------------------------------------
@app.task(base=StageTask, name=stages.FETCH, bind=True)
def fetch(
    self: StageTask,
    url: str,
    feed: str | None = None,
    site: str | None = None,
    language: str | None = None,
    published: str | None = None,
    address: str | None = None,
) -> Handoff:
    """Fetch one article page into the raw store and hand its reference to `process`."""
    rt = self.rt
    page = ingest.fetch_page(
        url,
        address=address,
        fetcher=rt.polite_fetcher,
        store=rt.raw_store,
        feed=feed,
        site=site,
        language=language,
        published=published,
    )
    rt.state.incr("fetched")
    return Handoff(add=[page.work()])


@app.task(base=StageTask, name=stages.PROCESS, bind=True)
def process(self: StageTask, page: dict[str, Any]) -> Handoff:
    """Clean a stored page into an article, queue it for indexing, re-clean stale pages."""
    rt = self.rt
    ref = ingest.PageRef.from_msg(page)
    outcome = ingest.process_page(ref, rt.process_deps)
    if ref.reason == "new":
        rt.state.incr("cleaned")  # fresh pages only: what `run --once` shows against pages fetched
    art = outcome.article
    for reason, n in art.extraction.removed.items():
        if n and reason.startswith("cut:"):
            rt.state.incr(reason)  # pages whose field the bounds cut (n is a size, not a count of blocks)
        elif n:
            rt.state.incr(f"removed:{reason}", n)
    if art.duplicate_of and ref.reason == "new":
        rt.state.incr("near_duplicates")
    if outcome.reclean:
        rt.state.incr("recleaned", len(outcome.reclean))
    return Handoff(add=outcome.reclean, index={art.id: outcome.document()})


# -- index ------------------------------------------------------------------------------------------
@app.task(base=StageTask, name=stages.INDEX, bind=True, ledgered=False)
def index(self: StageTask) -> int:
    """Bulk-index whatever articles are pending (up to one batch).

    The documents wait in Redis until the backend has them, so a failure needs no retry of
    this trigger: the next trigger, or the sweep a minute later, takes them again.
    """
    rt = self.rt
    try:
        if not _gather(rt):
            return 0  # the batch that is waiting reads this trigger's documents
        return _index_batch(rt)
    except TransientError as exc:
        outages.SEARCH.hit(exc, waiting=rt.state.pending.count())  # the sweep takes them later
        rt.state.incr("index_deferred")
        return 0


@app.task(base=StageTask, name="index.sweep", bind=True, ledgered=False)
def sweep_pending(self: StageTask) -> int:
    """Index what is still pending (run every minute by the scheduler), once per run."""
    rt = self.rt
    if not rt.state.pending.count():
        return 0
    try:
        return _index_batch(rt)
    except TransientError as exc:
        outages.SEARCH.hit(exc, waiting=rt.state.pending.count())
        return 0


@app.task(base=StageTask, name=stages.INDEX_REJECTED, bind=True)
def index_rejected(self: StageTask, doc_id: str) -> Handoff:
    """Offer a document the search backend refused to it again (a dead letter replayed)."""
    if not self.rt.state.pending.requeue_rejected([doc_id]):
        raise PermanentError(f"index {doc_id}: the refused document is no longer kept; reprocess its page")
    publish_index()
    return Handoff()


def _gather(rt: Runtime) -> bool:
    """Wait up to `index_linger` seconds for a batch to fill, so that the articles cleaned close
    together make one request and one commit; False when another trigger is waiting already.

    Every page publishes a trigger after its document is pending. The one trigger that holds
    the gather lease waits, gives the lease up, and only then reads the pending documents, so
    a trigger that finds the lease held may return at once: whoever holds it reads later than
    this trigger's document was written. A waiter that dies leaves the lease to expire, and the
    sweep indexes whatever it would have taken.
    """
    linger, size = rt.settings.index_linger, rt.settings.index_batch_size
    if linger <= 0 or rt.state.pending.count() >= size:
        return True
    lease, token = rt.state.index_gather_lease(linger + GATHER_SLACK), uuid.uuid4().hex
    if not lease.hold(token):
        return False
    try:
        deadline = time.monotonic() + linger
        while (left := deadline - time.monotonic()) > 0 and rt.state.pending.count() < size:
            time.sleep(min(GATHER_POLL, left))
    finally:
        lease.release(token)
    return True


def _index_batch(rt: Runtime) -> int:
    began = time.monotonic()
    outcome = ingest.index_pending(rt.state, rt.search, rt.settings.index_batch_size)
    outages.SEARCH.over("index batch(es)", began)
    if outcome.indexed:
        rt.state.incr("indexed", len(outcome.indexed))
        rt.state.incr("index_batches")
    if outcome.resent:
        rt.state.incr("index_resent_after_outage", outcome.resent)
        log.warning(
            "the search backend is back: %d document(s) it took just before it went away sent again", outcome.resent
        )
    for doc_id, reason in outcome.rejected.items():
        letter = DeadLetter(
            task=stages.INDEX_REJECTED,
            error=f"index {doc_id}: rejected by the search backend: {reason}",
            work=stages.index_rejected_work(doc_id),
            args=[doc_id],
        )
        rt.state.commit(dead=letter)
    if rt.state.pending.count() and outcome.indexed:
        publish_index()  # more than one batch was waiting
    return len(outcome.indexed)


# -- hand-offs --------------------------------------------------------------------------------------
@app.task(base=StageTask, name="handoff.reconcile", bind=True, ledgered=False)
def reconcile_work(self: StageTask) -> int:
    """Publish deferred work that is due and whatever the broker lost (run by beat)."""
    rt = self.rt
    done = reconcile(rt.state, grace=rt.settings.work_grace, lease=rt.settings.work_lease)
    return done.due + done.restored + done.republished
