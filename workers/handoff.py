"""Publishing work from the ledger, and carrying out the reconciler's plans.

A stage records its output in the work ledger (`pipeline.state.work`) and then publishes it
here. The reconciler makes the broker carry what the ledger says is to do; what it does, and
why, is decided in `pipeline.delivery` (pure functions of a snapshot); this module reads the
snapshot, and applies the plan: publish, put back, forget a run.

Publishing twice is harmless: every stage is idempotent. `newsflow run` reconciles every
second or so and at once when it restarts a dead worker; the scheduler (beat) every
`reconcile_interval` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kombu.exceptions import InconsistencyError, OperationalError

from pipeline.delivery import Inspect, Plan, Publish, Release, Restore, plan, plan_audit, plan_flush, plan_node_death
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


# Items are claimed a batch at a time, just before their messages go. Marked published only
# once all had gone, the first of a feed's 3,000 new links stayed "unpublished" while the rest
# were sent (18 s on a busy host): past the grace, the reconciler published them too, and
# 2,231 pages were fetched twice. A claim is atomic: of two publishers, one sends each item.
CLAIM_EVERY = 100


def publish(state: StateStore, items: Iterable[WorkItem], *, claim: bool = True) -> int:
    """Hand ledger items to the broker (task id = work id); returns how many went.

    `claim` (items recorded as not yet published): each batch is claimed first, and only the
    items no other publisher took are sent; one whose send then fails is carried by nothing, and
    the reconciler's counting finds it. Without (the reconciler's lost items, published already):
    sent, then marked. A failure is logged, not raised: the items are in the ledger, and the
    reconciler publishes whatever did not go.
    """
    queue = list(items)
    sent = 0
    unmarked: list[str] = []
    try:
        for start in range(0, len(queue), CLAIM_EVERY):
            batch = queue[start : start + CLAIM_EVERY]
            if claim:
                mine = state.work.claim_unpublished([i.id for i in batch], time.time())
                batch = [i for i in batch if i.id in mine]
            for item in batch:
                app.send_task(item.task, kwargs=item.kwargs, task_id=item.id)
                sent += 1
                if not claim:
                    unmarked.append(item.id)
            if unmarked:
                state.work.mark_sent(unmarked, time.time())
                unmarked = []
    except Exception as exc:
        if not isinstance(exc, PUBLISH_FAILURES) and not is_outage(exc):
            raise
        log.warning("could not publish work now (%s); the reconciler will publish it", exc)
    finally:
        if unmarked:
            try:
                state.work.mark_sent(unmarked, time.time())
            except Exception as exc:  # an outage: they go once more after the grace
                if not is_outage(exc):
                    raise
    return sent


def finish(
    state: StateStore,
    *,
    done: str | None = None,
    add: Sequence[WorkItem] = (),
    recorded: Sequence[WorkItem] = (),
    index: Mapping[str, str] | None = None,
) -> int:
    """End a stage: `done` leaves the ledger, `add` enters it and the documents in `index` wait
    for the search backend, in one transaction; then `add` and `recorded` (items a stage's own
    script put in the ledger, a poll's fetch work) are published. Returns how many went.

    The one way a stage hands work on: publishing before recording could lose the work, and
    recording without publishing would leave it to the reconciler's grace.
    """
    state.commit(done=done, add=add, index=index)
    return publish(state, [*recorded, *add])


def submit(state: StateStore, items: Sequence[WorkItem]) -> int:
    """Record new work in the ledger, then publish it."""
    return finish(state, add=items)


@dataclass
class Reconciled:
    due: int = 0  # deferred items published because their time came
    restored: int = 0  # held messages put back on their queues
    republished: int = 0  # items never published, or lost by the broker, published again
    inspected: list[str] = field(default_factory=list)  # stages whose queue was read (counts disagreed)

    def __bool__(self) -> bool:
        return bool(self.due or self.restored or self.republished)


def apply(state: StateStore, steps: Plan, now: float) -> Reconciled:
    """Carry out a plan of `pipeline.delivery` (its `Inspect` actions are `reconcile`'s)."""
    out = Reconciled()
    state.work.release(a.work_id for a in steps.actions if isinstance(a, Release))
    out.restored = state.broker.restore(a.tag for a in steps.actions if isinstance(a, Restore))
    publishes = [a for a in steps.actions if isinstance(a, Publish)]
    due = state.work.claim_due([a.work_id for a in publishes if a.why == "due"], now)
    out.due = publish(state, due)
    unpublished = state.work.items(a.work_id for a in publishes if a.why == "unpublished")
    lost = state.work.items(a.work_id for a in publishes if a.why not in ("due", "unpublished"))
    out.republished = publish(state, list(unpublished.values())) + publish(state, list(lost.values()), claim=False)
    return out


def reconcile(state: StateStore, *, grace: float, lease: float, now: float | None = None) -> Reconciled:
    """One pass of the reconciler: read a snapshot, plan, act (ways back 2 to 4 of
    `pipeline.delivery`). A stage whose counts say a message is missing is read, by one
    reconciler at a time, once a second snapshot taken after acting still says so."""
    now = time.time() if now is None else now
    state.work.adopt_earlier_layout()
    first = plan(state.delivery_snapshot(now, grace, lease))
    out = apply(state, first, now)
    suspects = {a.stage for a in first.actions if isinstance(a, Inspect)}
    if suspects:
        again = plan(state.delivery_snapshot(now, grace, lease))
        suspects &= {a.stage for a in again.actions if isinstance(a, Inspect)}
    if suspects and state.work.claim_scan(grace):
        for stage in sorted(suspects):
            found = apply(state, plan_audit(state.delivery_audit(stage, now, grace)), now)
            out.republished += found.republished
            out.inspected.append(stage)
    if out.republished:
        # What the broker lost or a publish never carried: an operator sees it in `status`.
        state.incr("work_published_again", out.republished)
    if out or out.inspected:
        log.info(
            "reconciled: %d due, %d restored, %d published again (queues read: %s)",
            out.due,
            out.restored,
            out.republished,
            ", ".join(out.inspected) or "none",
        )
    return out


def recover_node(state: StateStore, node: str) -> int:
    """A worker node died: put the messages of the items it was running back on their queues
    (way back 5); returns how many items it was running."""
    steps = plan_node_death(node, state.work.running(), state.broker.held())
    released = len([a for a in steps.actions if isinstance(a, Release)])
    if released:
        restored = apply(state, steps, time.time()).restored
        log.warning(
            "worker %s died running %d item(s); %d message(s) put back on their queues", node, released, restored
        )
    return released


def recover_dead_run(state: StateStore, run_pid: int) -> int:
    """The run that held this data directory before, pid `run_pid` on this host, died (its lock
    left with its pid in it), and its workers with it: what they were running goes back on the
    queues at once, not when the work lease runs out. Returns how many items."""
    from workers.supervisor import started_by

    nodes = {run.node for run in state.work.running().values() if started_by(run.node, run_pid)}
    return sum(recover_node(state, node) for node in sorted(nodes))


def flush_held(state: StateStore, older_than: float = 2.0) -> int:
    """Put back every message held longer than `older_than` seconds (way back 6: the ledger is
    empty, so none is a running item; what is left is an acknowledgement lost in an outage)."""
    now = time.time()
    return apply(state, plan_flush(now, state.broker.held(), older_than), now).restored
