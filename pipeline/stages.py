"""The stages' stable task names, and the work items that start each stage.

Queue and task names are part of the contract between processes (and with messages already
queued), so they are written once, here; `workers.tasks` registers its tasks under them.
"""

from __future__ import annotations

from typing import Any

from pipeline.state.work import WorkItem

QUEUES = ("feeds", "fetch", "process", "index")  # one per stage, each scaled on its own

POLL = "feeds.poll"
FETCH = "fetch.page"
PROCESS = "process.page"
INDEX = "index.batch"
INDEX_REJECTED = "index.rejected"  # a document the search backend refused, for replay


def queue_of(task: str) -> str:
    """The queue a task name belongs to: the part before the dot."""
    return task.split(".", 1)[0]


def poll_work(feed: dict[str, Any], feed_id: str, *, scheduled: bool) -> WorkItem:
    """Poll one feed; a scheduled poll plans the next one, a one-off poll (`run --once`) does not."""
    return WorkItem.make(POLL, f"{feed_id}:{'scheduled' if scheduled else 'once'}", feed=feed, reschedule=scheduled)


def fetch_work(
    url: str,
    *,
    address: str | None = None,
    feed: str | None = None,
    site: str | None = None,
    language: str | None = None,
    published: str | None = None,
) -> WorkItem:
    """Fetch one article page (keyed by its canonical URL: one fetch per URL at a time), asking
    the server for `address`, the link as written, when one is given."""
    written = {"address": address} if address and address != url else {}
    return WorkItem.make(
        FETCH, url, place=url, url=url, feed=feed, site=site, language=language, published=published, **written
    )


def process_work(page: dict[str, Any], page_id: str) -> WorkItem:
    """Clean one stored page (keyed by page and reason: a re-clean does not replace a first clean),
    placed by the page's URL (an import claims it with its work: see `WorkItem.make`)."""
    return WorkItem.make(PROCESS, f"{page_id}:{page.get('reason', 'new')}", place=page.get("url"), page=page)


def index_rejected_work(doc_id: str) -> WorkItem:
    """Offer a refused document to the search backend again."""
    return WorkItem.make(INDEX_REJECTED, doc_id, doc_id=doc_id)
