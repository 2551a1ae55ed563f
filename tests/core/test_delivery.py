"""The reconciler's decisions as a table: one row for each way a message comes back, and one
for each reason to leave a message or an item alone (pure: snapshots built by hand).

Way back 1, kombu's visibility timeout, is kombu's own rule: its row is in
tests/state/test_kombu_layout.py, against the real kombu.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pipeline.delivery import (
    KEEP_COUNTS,
    KEEP_GRACE,
    KEEP_HELD,
    KEEP_LEASE,
    KEEP_NOT_DUE,
    KEEP_OTHER_NODE,
    KEEP_QUEUED,
    KEEP_RECENT,
    KEEP_RUNNING,
    KEEP_YOUNG,
    Action,
    Audit,
    Inspect,
    Plan,
    Publish,
    Release,
    Restore,
    Snapshot,
    plan,
    plan_audit,
    plan_flush,
    plan_node_death,
)
from pipeline.state.broker import Held
from pipeline.state.work import Run

NOW = 10_000.0
GRACE = 20.0
LEASE = 300.0
ITEM = "fetch.page:0a1b2c"


def held(since: float, task_id: str = ITEM, tag: str = "tag-1", queue: str = "fetch") -> Held:
    return Held(tag=tag, task_id=task_id, task=task_id.split(":")[0], queue=queue, since=since)


def snapshot(**parts: object) -> Snapshot:
    return Snapshot(now=NOW, grace=GRACE, lease=LEASE, **parts)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Row:
    says: str
    decided: Plan
    actions: list[Action] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)


ROWS = [
    # -- ways back ------------------------------------------------------------------------------
    Row(
        "2. due work: a deferred item whose time came is published",
        plan(snapshot(due={ITEM: NOW - 1})),
        actions=[Publish(ITEM, "due")],
    ),
    Row(
        "3. a message held past the grace, its item sent long ago and run by nobody, is put back",
        plan(snapshot(held=[held(NOW - 60)], sent={ITEM: NOW - 60}, carrying={ITEM}, live={"fetch": 1})),
        actions=[Restore("tag-1", ITEM, "held")],
        kept={"fetch": KEEP_COUNTS},
    ),
    Row(
        "3. a message of no ledger item (a trigger) held past the lease is put back",
        plan(snapshot(held=[held(NOW - LEASE - 1, task_id="index.batch:x")])),
        actions=[Restore("tag-1", "index.batch:x", "held")],
    ),
    Row(
        "3. an item run past its lease: its run is forgotten, its message put back",
        plan(
            snapshot(
                running={ITEM: Run("w1", "tag-1", NOW - LEASE - 1)},
                held=[held(NOW - LEASE - 2)],
                sent={ITEM: NOW - LEASE - 3},
                carrying={ITEM},
                live={"fetch": 1},
            )
        ),
        actions=[Release(ITEM, "hung"), Restore("tag-1", ITEM, "hung")],
        kept={"fetch": KEEP_COUNTS},
    ),
    Row(
        "4. an item recorded more than the grace ago and never published is published",
        plan(snapshot(unpublished={ITEM: NOW - GRACE})),
        actions=[Publish(ITEM, "unpublished")],
    ),
    Row(
        "4. a stage whose queue and workers carry fewer messages than its published items is read",
        plan(snapshot(live={"fetch": 3}, waiting={"fetch": 1}, held=[held(NOW - 1)], carrying={ITEM})),
        actions=[Inspect("fetch", 1)],
        kept={"tag-1": KEEP_GRACE},
    ),
    Row(
        "4. held messages of ended items (acknowledgements lost) and a second copy carry nothing more",
        plan(
            snapshot(
                live={"fetch": 2},
                held=[
                    held(NOW - 1),
                    held(NOW - 1, tag="tag-2"),
                    held(NOW - 1, task_id="fetch.page:ended", tag="tag-3"),
                ],
                carrying={ITEM},
            )
        ),
        actions=[Inspect("fetch", 1)],
        kept={"tag-1": KEEP_GRACE, "tag-2": KEEP_GRACE, "tag-3": KEEP_GRACE},
    ),
    Row(
        "4. read, a published item that no queue and no worker carries is published again",
        plan_audit(Audit("fetch", NOW, GRACE, live={ITEM: NOW - GRACE}, queued=set(), held=set())),
        actions=[Release(ITEM, "lost"), Publish(ITEM, "lost")],
    ),
    Row(
        "5. a dead node: its runs are forgotten and the messages of its items put back",
        plan_node_death(
            "w1",
            {ITEM: Run("w1", "tag-1", NOW - 5), "fetch.page:other": Run("w2", "tag-2", NOW - 5)},
            [held(NOW - 5), held(NOW - 5, task_id="fetch.page:other", tag="tag-2")],
        ),
        actions=[Release(ITEM, "node"), Restore("tag-1", ITEM, "node")],
        kept={"fetch.page:other": KEEP_OTHER_NODE},
    ),
    Row(
        "6. end of run --once: a message still held is an acknowledgement lost; it is put back",
        plan_flush(NOW, [held(NOW - 3)]),
        actions=[Restore("tag-1", ITEM, "flush")],
    ),
    # -- reasons to leave alone -----------------------------------------------------------------
    Row(
        "not due: a deferred item whose time has not come waits",
        plan(snapshot(due={ITEM: NOW + 1})),
        kept={ITEM: KEEP_NOT_DUE},
    ),
    Row(
        "grace: a message held less than the grace is left to its worker, however old its item",
        plan(snapshot(held=[held(NOW - GRACE + 1)], sent={ITEM: NOW - 3600})),
        kept={"tag-1": KEEP_GRACE},
    ),
    Row(
        "running: a message whose item runs within the lease is left, however long held",
        plan(
            snapshot(
                running={ITEM: Run("w1", "tag-1", NOW - LEASE + 1)}, held=[held(NOW - 3600)], sent={ITEM: NOW - 3600}
            )
        ),
        kept={"tag-1": KEEP_RUNNING},
    ),
    Row(
        "lease: a trigger's message held past the grace but within the lease is left",
        plan(snapshot(held=[held(NOW - GRACE - 1, task_id="index.batch:x")])),
        kept={"tag-1": KEEP_LEASE},
    ),
    Row(
        "lease: a message whose item was published within the grace (not stale) is left until the lease",
        plan(snapshot(held=[held(NOW - GRACE - 1)], sent={ITEM: NOW - 1})),
        kept={"tag-1": KEEP_LEASE},
    ),
    Row(
        "recent: an item recorded within the grace may be being published; it is left",
        plan(snapshot(unpublished={ITEM: NOW - GRACE + 1})),
        kept={ITEM: KEEP_RECENT},
    ),
    Row(
        "counts agree: a stage carrying as many messages as published items (or more) is not read",
        plan(
            snapshot(
                live={"fetch": 2, "process": 5},
                waiting={"fetch": 1, "process": 7},
                held=[held(NOW - 1)],
                carrying={ITEM},
            )
        ),
        kept={"fetch": KEEP_COUNTS, "process": KEEP_COUNTS, "tag-1": KEEP_GRACE},
    ),
    Row(
        "queued, held, recent: read, an item carried by its queue or a worker, or sent just now, is left",
        plan_audit(
            Audit(
                "fetch",
                NOW,
                GRACE,
                live={"fetch.page:q": NOW - 99, "fetch.page:h": NOW - 99, "fetch.page:r": NOW - GRACE + 1},
                queued={"fetch.page:q"},
                held={"fetch.page:h"},
            )
        ),
        kept={"fetch.page:q": KEEP_QUEUED, "fetch.page:h": KEEP_HELD, "fetch.page:r": KEEP_RECENT},
    ),
    Row(
        "young: at the end of run --once, a message taken just now is not flushed",
        plan_flush(NOW, [held(NOW - 1)]),
        kept={"tag-1": KEEP_YOUNG},
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.says for r in ROWS])
def test_decision(row: Row) -> None:
    """Each row: the plan's actions and the reasons it gives for what it left, exactly."""
    assert row.decided.actions == row.actions
    assert row.decided.kept == row.kept


def test_a_quiet_snapshot_plans_nothing() -> None:
    """Nothing due, nothing unpublished, nothing held, counts equal: no action at all."""
    decided = plan(snapshot(live={"fetch": 4}, waiting={"fetch": 4}))
    assert decided.actions == []
