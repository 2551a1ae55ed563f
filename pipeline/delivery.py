"""The delivery guarantee, decided in one place: at least once, nothing lost.

The invariant: every unit of work that has not ended is in the work ledger
(`pipeline.state.work`), and every ledger item that is not waiting for its time is carried
by the broker (its message is queued, or held by a worker) or will be published again. A
stage ends in one transaction (its item leaves, the next stage's items enter) and only then
publishes, so a crash anywhere leaves the work in the ledger; every stage is idempotent, so
a message delivered twice costs work, never correctness.

A message comes back to a queue in six ways. The first is kombu's; the reconciler decides
the others here, as pure functions from a snapshot of the ledger and the broker (and the
time) to a list of actions; `workers.handoff` reads the snapshot and applies the actions.

1. kombu's visibility timeout: a consumer puts back a message held longer than
   `visibility_timeout` (the backstop; `tests/state/test_kombu_layout.py`).
2. due work: a deferred item (a retry back-off, a busy host) whose time came is published
   (`Publish(why="due")`).
3. restoring held messages: a message held past the grace by a worker that does not run
   its item within the lease (a worker that died, hung, or lost its acknowledgement in an
   outage) is put back on its queue (`Restore(why="held" or "hung")`).
4. republishing missing ones: an item recorded but never published (a publish cut off by a
   crash or an outage) is published after the grace (`Publish(why="unpublished")`); an item
   the broker lost altogether is found by counting, and published (`Publish(why="lost")`).
5. recovering a dead node: the messages of the items a dead worker ran are put back at once
   (`plan_node_death`).
6. flushing held messages at the end of `run --once`: once the ledger is empty, a message
   still held is an acknowledgement lost in an outage, and is put back (`plan_flush`).

Reasons to leave a message or an item alone are named in `Plan.kept` (`KEEP_*`); the decision
table in `tests/core/test_delivery.py` has a row for each way back and each reason.

Counting, not reading: a pass reads no queued message while, for every stage, the messages
its queue and the workers carry are at least the items the ledger counts as published
(`Snapshot.live`). Only a stage that carries fewer is read (`Inspect`), and only then is each
of its items looked for (`plan_audit`). A pass therefore costs the same with a thousand or
a million queued items. A loss behind a surplus (a duplicate or a trigger message in the
same queue) shows once the surplus is taken, at the latest when the queue runs dry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.state.broker import Held
from pipeline.state.snapshot import Audit, Snapshot
from pipeline.state.work import Run

__all__ = ["Audit", "Inspect", "Plan", "Publish", "Release", "Restore", "Snapshot", "plan", "plan_audit"]

# Why a message or an item was left alone (the values of `Plan.kept`).
KEEP_GRACE = "grace"  # a message held less than the grace: its worker is about to start it
KEEP_RUNNING = "running"  # its item runs within the lease
KEEP_LEASE = "lease"  # held less than the lease, by no run: a trigger, or an item published just now
KEEP_RECENT = "recent"  # an item recorded (or published) less than the grace ago: its publish may be under way
KEEP_NOT_DUE = "not due"  # a deferred item whose time has not come
KEEP_COUNTS = "counts agree"  # a stage whose queue and workers carry at least the items the ledger counts
KEEP_QUEUED = "queued"  # an item whose message waits in its queue
KEEP_HELD = "held"  # an item whose message a worker holds
KEEP_OTHER_NODE = "other node"  # a run of a worker that did not die
KEEP_YOUNG = "young"  # a message held too briefly to be a lost acknowledgement


@dataclass(frozen=True)
class Publish:
    """Publish a ledger item (again): `due`, `unpublished` or `lost`."""

    work_id: str
    why: str


@dataclass(frozen=True)
class Restore:
    """Put a held message back on its queue: `held`, `hung`, `node` or `flush`."""

    tag: str
    task_id: str
    why: str


@dataclass(frozen=True)
class Release:
    """Forget who runs an item (its worker is gone or hung): `hung`, `node` or `lost`."""

    work_id: str
    why: str


@dataclass(frozen=True)
class Inspect:
    """Read a stage's queue: it carries fewer messages than the ledger has published items."""

    stage: str
    missing: int


Action = Publish | Restore | Release | Inspect


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # message tag, work id or stage -> why left alone

    def of(self, kind: type[Action]) -> list[Action]:
        return [a for a in self.actions if isinstance(a, kind)]


def plan(snap: Snapshot) -> Plan:
    """One reconciliation pass: ways back 2, 3 and 4 (see the module docstring)."""
    out = Plan()
    for work_id, when in snap.due.items():
        if when <= snap.now:
            out.actions.append(Publish(work_id, "due"))
        else:
            out.kept[work_id] = KEEP_NOT_DUE
    for work_id, recorded in snap.unpublished.items():
        if snap.now - recorded >= snap.grace:
            out.actions.append(Publish(work_id, "unpublished"))
        else:
            out.kept[work_id] = KEEP_RECENT
    for work_id, run in snap.running.items():
        if snap.now - run.at >= snap.lease:
            out.actions.append(Release(work_id, "hung"))
    for message in snap.held:
        why = _held_verdict(snap, message)
        if why in ("held", "hung"):
            out.actions.append(Restore(message.tag, message.task_id, why))
        else:
            out.kept[message.tag] = why
    # A held message carries an item only if the ledger counts that item as published: one of
    # an ended item (an acknowledgement lost in an outage) or of a trigger would otherwise hide
    # a loss until it is put back, a lease later.
    carried = dict(snap.waiting)
    for task_id, queue in {m.task_id: m.queue for m in snap.held}.items():
        if task_id in snap.carrying:
            carried[queue] = carried.get(queue, 0) + 1
    for stage, published in snap.live.items():
        missing = published - carried.get(stage, 0)
        if missing > 0:
            out.actions.append(Inspect(stage, missing))
        else:
            out.kept[stage] = KEEP_COUNTS
    return out


def _held_verdict(snap: Snapshot, message: Held) -> str:
    """Restore a held message ("held", "hung"), or why to leave it."""
    age = snap.now - message.since
    if age < snap.grace:
        return KEEP_GRACE
    run = snap.running.get(message.task_id)
    if run is not None:
        return KEEP_RUNNING if snap.now - run.at < snap.lease else "hung"
    sent = snap.sent.get(message.task_id)
    stale = sent is not None and snap.now - sent >= snap.grace
    if not stale and age < snap.lease:
        return KEEP_LEASE
    return "held"


def plan_audit(audit: Audit) -> Plan:
    """Way back 4 for a stage whose counts disagree: its published items that no queue and no
    worker carries, sent more than the grace ago, are published again."""
    out = Plan()
    for work_id, sent in audit.live.items():
        if work_id in audit.queued:
            out.kept[work_id] = KEEP_QUEUED
        elif work_id in audit.held:
            out.kept[work_id] = KEEP_HELD
        elif audit.now - sent < audit.grace:
            out.kept[work_id] = KEEP_RECENT
        else:
            out.actions += [Release(work_id, "lost"), Publish(work_id, "lost")]
    return out


def plan_node_death(node: str, running: Mapping[str, Run], held: Sequence[Held]) -> Plan:
    """Way back 5: a worker node died; the messages of the items it ran go back at once."""
    out = Plan()
    mine = set()
    for work_id, run in running.items():
        if run.node == node:
            mine.add(work_id)
            out.actions.append(Release(work_id, "node"))
        else:
            out.kept[work_id] = KEEP_OTHER_NODE
    out.actions += [Restore(m.tag, m.task_id, "node") for m in held if m.task_id in mine]
    return out


def plan_flush(now: float, held: Sequence[Held], older_than: float = 2.0) -> Plan:
    """Way back 6: the ledger is empty and no queue holds a message, so a message held longer
    than `older_than` seconds is an acknowledgement lost in an outage; put it back."""
    out = Plan()
    for m in held:
        if now - m.since > older_than:
            out.actions.append(Restore(m.tag, m.task_id, "flush"))
        else:
            out.kept[m.tag] = KEEP_YOUNG
    return out
