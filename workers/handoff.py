"""Publishing work from the ledger, and reconciling the ledger with the broker.

A stage records its output in the work ledger (`pipeline.state.work`) and then publishes it
here. The reconciler makes the broker carry what the ledger says is to do:

- deferred items (retry back-off, busy host) are published when their time comes;
- a message a worker took and then lost (the worker died, the item ran past its lease, the
  acknowledgement failed during an outage) is put back on its queue;
- an item the broker no longer carries at all (a publish cut off by a crash, a message lost
  between a queue and a worker) is published again.

Publishing twice is harmless: every stage is idempotent. `newsflow run` reconciles every
second or so and at once when it restarts a dead worker; the scheduler (beat) every
`reconcile_interval` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from kombu.exceptions import InconsistencyError, OperationalError

from pipeline.state import OUTAGE_ERRORS, StateStore, WorkItem, is_outage
from workers.celery_app import app

log = logging.getLogger("newsflow.handoff")

# What a publish may fail with while the broker's Redis is away: kombu re-raises the
# transport's connection and channel errors as OperationalError once its retries are spent,
# an InconsistencyError is its lost table of bindings (a Redis restarted without them), and
# Redis's own errors reach us from outside kombu's retry. The items wait in the ledger and the
# reconciler publishes them. Anything else (a message that does not serialise, say) is a bug
# and is raised.
PUBLISH_FAILURES: tuple[type[Exception], ...] = (OperationalError, InconsistencyError, *OUTAGE_ERRORS)


def publish(state: StateStore, items: Iterable[WorkItem]) -> int:
    """Hand ledger items to the broker (task id = work id); returns how many went.

    A failure is logged, not raised: the items are in the ledger, and the reconciler
    publishes whatever did not go.
    """
    sent: list[str] = []
    try:
        for item in items:
            app.send_task(item.task, kwargs=item.kwargs, task_id=item.id)
            sent.append(item.id)
    except Exception as exc:
        if not isinstance(exc, PUBLISH_FAILURES) and not is_outage(exc):
            raise
        log.warning("could not publish work now (%s); the reconciler will publish it", exc)
    finally:
        if sent:
            try:
                state.work.mark_sent(sent, time.time())
            except Exception as exc:  # an outage: the items count as sent earlier, which is harmless
                if not is_outage(exc):
                    raise
    return len(sent)


def submit(state: StateStore, items: list[WorkItem]) -> int:
    """Record new work in the ledger, then publish it."""
    state.work.record(items, time.time())
    return publish(state, items)


@dataclass
class Reconciled:
    due: int = 0  # deferred items published because their time came
    restored: int = 0  # held messages put back on their queues
    republished: int = 0  # items the broker had lost, published again

    def __bool__(self) -> bool:
        return bool(self.due or self.restored or self.republished)


def scan_interval(open_items: int) -> float:
    """Seconds between two comparisons of the ledger with the queues: reading every queued
    message costs, so a large backlog is compared less often (5 s up to 5 minutes)."""
    return min(300.0, max(5.0, open_items / 500))


def reconcile(state: StateStore, *, grace: float, lease: float, now: float | None = None) -> Reconciled:
    """One pass of the reconciler (see the module docstring)."""
    now = time.time() if now is None else now
    out = Reconciled()
    due = state.work.take_due(now)
    out.due = publish(state, due)
    if not state.work.claim_scan(scan_interval(state.work.counts().total)):
        return out
    stale, hung = state.work.stale(now, grace, lease)
    running = state.work.running()
    # Read the queues before the held messages: a message moving from one to the other is
    # then seen in the second read, not missed by both.
    queued = state.broker.queued_ids() if stale else set()
    taken = state.broker.taken()
    held = {t.task_id for t in taken}
    # Held messages: keep those of items running within their lease; put the rest back once
    # they are older than the grace (a worker that died holding them, or a lost ack).
    restore: list[str] = []
    for t in taken:
        if now - t.since < grace:
            continue
        run = running.get(t.task_id)
        if run is not None and t.task_id not in hung and now - float(run.get("at", now)) < lease:
            continue
        if run is None and t.task_id not in stale and now - t.since < lease:
            continue  # not a ledger item (an index trigger, a sweep): leave it its lease
        restore.append(t.tag)
    if hung:
        state.work.release(hung)
    out.restored = state.broker.restore(restore)
    missing = [item for work_id, item in stale.items() if work_id not in queued and work_id not in held]
    if missing:
        # Look at the held messages once more: a worker may have taken one meanwhile.
        held_now = {t.task_id for t in state.broker.taken()}
        missing = [item for item in missing if item.id not in held_now]
        state.work.release(i.id for i in missing)
        out.republished = publish(state, missing)
    if out:
        log.info("reconciled: %d due, %d restored, %d published again", out.due, out.restored, out.republished)
    return out


def recover_node(state: StateStore, node: str) -> int:
    """A worker node died: put the messages of the items it was running back on their queues."""
    running = state.work.running()
    mine = {work_id: run for work_id, run in running.items() if run.get("node") == node}
    if not mine:
        return 0
    state.work.release(mine)
    restored = state.broker.restore(t.tag for t in state.broker.taken() if t.task_id in mine)
    log.warning("worker %s died running %d item(s); %d message(s) put back on their queues", node, len(mine), restored)
    return len(mine)


def flush_held(state: StateStore, older_than: float = 2.0) -> int:
    """Put back every message held longer than `older_than` seconds (the ledger is empty, so
    none is a running item): what is left is an acknowledgement lost in an outage."""
    return state.broker.restore_older_than(older_than, spare=set())
