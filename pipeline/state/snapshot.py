"""What the reconciler reads of the ledger and the broker (`pipeline.delivery` decides on it).

`StateStore.delivery_snapshot` and `StateStore.delivery_audit` fill these; tests build them by
hand to state each rule of the plan as one row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.state.broker import Held
from pipeline.state.work import Run


@dataclass(frozen=True)
class Snapshot:
    """What one reconciliation pass reads: a few commands, whatever the backlog."""

    now: float
    grace: float  # seconds a message may go missing (or be held unstarted) before it counts as lost
    lease: float  # seconds a worker may run one item before it is presumed hung or dead
    due: Mapping[str, float] = field(default_factory=dict)  # deferred items: work id -> when due
    unpublished: Mapping[str, float] = field(default_factory=dict)  # work id -> when recorded
    running: Mapping[str, Run] = field(default_factory=dict)
    held: Sequence[Held] = ()
    sent: Mapping[str, float] = field(default_factory=dict)  # held messages' items: work id -> last sent
    carrying: Collection[str] = frozenset()  # held messages' items the ledger counts as published
    live: Mapping[str, int] = field(default_factory=dict)  # per stage: items published, not ended
    waiting: Mapping[str, int] = field(default_factory=dict)  # per stage: messages in its queue


@dataclass(frozen=True)
class Audit:
    """A closer look at one stage whose counts disagree: its published items and what carries them."""

    stage: str
    now: float
    grace: float
    live: Mapping[str, float]  # the stage's published items: work id -> when last sent
    queued: Collection[str]  # task ids waiting in its queue (read first)
    held: Collection[str]  # task ids held by workers (read after the queue)
