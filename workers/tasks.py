"""Celery tasks: short adapters from a message to one function of `pipeline/`.

`StageTask` maps outcomes the same way for every stage:
  TransientError -> retry with exponential backoff (dead-lettered after max retries);
  PermanentError -> dead letter with the error; Dropped -> ack and count the reason;
  any other exception is a bug: dead letter with its traceback. Nothing escapes to kill
  the worker, and a task never waits on another task's result.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from typing import Any

from celery import Task

from pipeline import ingest, scheduling
from pipeline.errors import Dropped, PermanentError, TransientError
from pipeline.feeds import FeedConfig
from pipeline.models import article_id
from pipeline.politeness import HostBusy
from workers.celery_app import app
from workers.runtime import Runtime, get_runtime

log = logging.getLogger("newsflow.tasks")


class StageTask(Task):
    abstract = True
    stage = ""

    @property
    def rt(self) -> Runtime:
        return get_runtime()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        rt = self.rt
        try:
            return self.run(*args, **kwargs)
        except Dropped as exc:
            rt.state.incr(f"dropped:{exc.reason}")
            log.info("%s dropped: %s", self.name, exc)
            return None
        except TransientError as exc:
            attempt = self.request.retries + 1
            limit = rt.settings.max_retries
            if attempt > limit:
                self.give_up(args, exc, limit)
                return None
            delay = _backoff(attempt, rt.settings.retry_backoff_max, exc.retry_after)
            log.warning("%s: %s (attempt %d/%d), retrying in %.0f s", self.name, exc, attempt, limit, delay)
            rt.state.incr("retried")
            raise self.retry(countdown=delay, exc=exc, max_retries=limit + 1) from None
        except PermanentError as exc:
            rt.state.dead_letter(self.name, args, str(exc))
            log.error("%s: %s; dead-lettered", self.name, exc)
            return None
        except Exception as exc:  # a bug: keep the evidence, keep the worker
            rt.state.dead_letter(self.name, args, "".join(traceback.format_exception(exc)))
            log.exception("%s failed unexpectedly; dead-lettered", self.name)
            return None

    def give_up(self, args: tuple[Any, ...], exc: TransientError, limit: int) -> None:
        """A transient failure outlasted its retries: keep the task as a dead letter."""
        self.rt.state.dead_letter(self.name, args, f"{exc} (gave up after {limit} retries)")
        log.error("%s: %s (gave up after %d retries), dead-lettered", self.name, exc, limit)


class IndexTask(StageTask):
    abstract = True

    def give_up(self, args: tuple[Any, ...], exc: TransientError, limit: int) -> None:
        """Not a dead letter: the articles stay pending, and the sweep takes them later."""
        rt = self.rt
        log.warning("%s: %s; %d article(s) left to the sweep", self.name, exc, ingest.pending_count(rt.state))
        rt.state.incr("index_deferred")


def _backoff(attempt: int, cap: float, hint: float | None) -> float:
    base = min(cap, 2.0**attempt)
    delay = base * random.uniform(0.5, 1.0)
    return min(cap, max(delay, hint or 0.0))


@app.task(base=StageTask, name="feeds.schedule", bind=True)
def schedule_due_feeds(self: StageTask) -> int:
    """Queue a poll for every feed whose next-poll time has come (run by beat); paused feeds are not due."""
    due = scheduling.claim_due(self.rt.state, time.time())
    for feed in due:
        poll.delay(feed.model_dump())
    return len(due)


MAX_DEFERRALS = 200  # a task put off this many times for a busy host is given up (dead-lettered)


def _defer(task: Any, exc: HostBusy, args: tuple, kwargs: dict) -> None:
    """Queue the task again after the host's wait, without spending one of its retries."""
    rt = get_runtime()
    deferrals = int(kwargs.get("deferrals", 0)) + 1
    if deferrals > MAX_DEFERRALS:
        rt.state.dead_letter(task.name, args, f"{exc} (put off {MAX_DEFERRALS} times; giving up)")
        return
    wait = exc.retry_after or 1.0
    # Cut long waits to well inside the broker's visibility timeout; the task defers again if need be.
    countdown = min(wait, rt.settings.visibility_timeout / 2) + random.uniform(0, max(1.0, wait * 0.2))
    task.apply_async(args=args, kwargs={**kwargs, "deferrals": deferrals}, countdown=countdown)
    rt.state.incr(f"deferred:{exc.reason}")
    log.info("%s: %s; deferred %.0f s", task.name, exc, countdown)


@app.task(base=StageTask, name="feeds.poll", bind=True)
def poll(self: StageTask, feed_msg: dict, reschedule: bool = True, deferrals: int = 0) -> int:
    """Poll one feed, queue a fetch for each new article URL, and plan the feed's next poll."""
    rt = self.rt
    feed = FeedConfig.model_validate(feed_msg)
    try:
        result = scheduling.poll_and_plan(
            feed,
            fetcher=rt.fetcher,
            state=rt.state,
            policy=scheduling.PollPolicy.from_settings(rt.settings),
            max_bytes=rt.settings.max_feed_bytes,
            politeness=rt.politeness,
            verify_every=rt.settings.feed_verify_every,
            plan=reschedule,
        )
    except HostBusy as exc:
        if not reschedule:  # a one-off poll: nobody else will queue it again
            _defer(poll, exc, (feed_msg,), {"reschedule": False, "deferrals": deferrals})
        return 0
    except (TransientError, PermanentError, Dropped) as exc:
        if not reschedule:
            raise  # a one-off poll: retried or dead-lettered like any task
        # A scheduled feed's next poll is its retry: the failure lives in the feed's health,
        # not in the dead letters (a feed failing for a day would fill them).
        log.warning("poll %s: %s; next poll planned with back-off", feed.url, exc)
        return 0
    for entry in result.new_entries:
        try:
            published = entry.published_at.isoformat() if entry.published_at else None
            fetch.delay(entry.url, feed=feed.url, site=feed.site, language=feed.language, published=published)
        except Exception:
            rt.state.release_url(entry.url)  # not queued: let the next poll find it again
            raise
    rt.state.incr("urls_queued", len(result.new_entries))
    return len(result.new_entries)


@app.task(base=StageTask, name="fetch.page", bind=True)
def fetch(
    self: StageTask,
    url: str,
    feed: str | None = None,
    site: str | None = None,
    language: str | None = None,
    published: str | None = None,
    deferrals: int = 0,
) -> None:
    """Fetch one article page into the raw store and hand its reference to `process`.

    A host in back-off (Retry-After), at its concurrency cap or rate limit puts the task off
    with a countdown instead of holding the worker asleep.
    """
    rt = self.rt
    try:
        page = ingest.fetch_page(
            url,
            fetcher=rt.fetcher,
            state=rt.state,
            store=rt.raw_store,
            host_delay=rt.settings.host_delay,
            feed=feed,
            site=site,
            language=language,
            published=published,
            politeness=rt.politeness,
        )
    except HostBusy as exc:
        kwargs = {"feed": feed, "site": site, "language": language, "published": published, "deferrals": deferrals}
        _defer(fetch, exc, (url,), kwargs)
        return
    process.delay(page.to_msg())


@app.task(base=StageTask, name="process.page", bind=True)
def process(self: StageTask, page_msg: dict) -> None:
    """Clean a stored page into an article, queue it for indexing, re-clean stale pages."""
    rt = self.rt
    page = ingest.PageRef.from_msg(page_msg)
    ingest.remember_page(rt.state, article_id(page.url), page)
    built = ingest.build_article(
        page, store=rt.raw_store, boilerplate=rt.boilerplate, neardup=rt.neardup, state=rt.state
    )
    art = built.article
    for reason, n in art.extraction.removed.items():
        if n:
            rt.state.incr(f"removed:{reason}", n)
    if art.duplicate_of and page.reason == "new":
        rt.state.incr("near_duplicates")
    ingest.queue_for_index(rt.state, art)
    index.delay()
    for page_id in built.reclean_pages:
        old = ingest.recall_page(rt.state, page_id)
        if old is not None:
            old.reason = "reclean"
            process.delay(old.to_msg())
            rt.state.incr("recleaned")


@app.task(base=IndexTask, name="index.batch", bind=True)
def index(self: IndexTask) -> int:
    """Bulk-index whatever articles are pending (up to one batch)."""
    return _index_batch(self.rt, self.name)


@app.task(base=StageTask, name="index.sweep", bind=True)
def sweep_pending(self: StageTask) -> int:
    """Index what is still pending (run every minute by the scheduler).

    Articles wait in the pending hash while the search backend is away; once their index
    task has used its retries they would wait for the next article to come along. The sweep
    tries once per run, without retries or dead letters: it runs again a minute later.
    """
    rt = self.rt
    if not ingest.pending_count(rt.state):
        return 0
    try:
        return _index_batch(rt, self.name)
    except TransientError as exc:
        log.info("index sweep: %s; %d article(s) wait for the next sweep", exc, ingest.pending_count(rt.state))
        return 0


def _index_batch(rt: Runtime, task_name: str) -> int:
    outcome, rejected = ingest.index_pending(rt.state, rt.search, rt.settings.index_batch_size)
    if outcome.indexed:
        rt.state.incr("indexed", len(outcome.indexed))
    for doc_id, reason in outcome.rejected.items():
        rt.state.dead_letter(task_name, [doc_id], f"index {doc_id}: rejected by the search backend: {reason}")
        rt.state.r.hset(ingest.PREFIX + "index:rejected", doc_id, rejected.get(doc_id, ""))
    if ingest.pending_count(rt.state) and outcome.indexed:
        index.delay()  # more than one batch was waiting
    return len(outcome.indexed)
