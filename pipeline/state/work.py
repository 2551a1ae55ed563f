"""The work ledger: every queued unit of work is recorded in Redis before it is published.

A stage records its output (the next stage's work items) and its marks (a URL is seen, a
document is pending) in one Redis script or transaction, then publishes the items to the
broker. The broker is only the delivery: if a message is lost (a worker killed between
taking it and acknowledging it, a publish cut off by a crash, an acknowledgement that
failed during an outage), the item is still in the ledger, and the reconciler publishes it
again. Every stage is idempotent, so publishing twice costs work, never correctness.

An item is `waiting` (deferred until a time: a retry back-off, a busy host), `sent` (handed
to the broker at a time) or `running` (a worker took it, with its node name and the
broker's delivery tag). It leaves the ledger when its task ends: done, dropped or
dead-lettered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client, text


@dataclass(frozen=True)
class WorkItem:
    """One unit of work: a stage task's name and keyword arguments, under a stable id.

    `id` is also the broker message's task id, so a message found in a queue can be matched
    with its ledger entry. `attempts` counts failures retried so far, `deferrals` the times
    the item was put off for a busy host; `error` is the last failure.
    """

    id: str
    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    deferrals: int = 0
    error: str = ""

    @classmethod
    def make(cls, task: str, key: str, **kwargs: Any) -> WorkItem:
        """An item whose id derives from the task and a key: recording it twice keeps one entry."""
        digest = hashlib.sha1(f"{task}\x00{key}".encode()).hexdigest()[:24]
        return cls(id=f"{task}:{digest}", task=task, kwargs=kwargs)

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "task": self.task,
                "kwargs": self.kwargs,
                "attempts": self.attempts,
                "deferrals": self.deferrals,
                "error": self.error,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> WorkItem:
        data = json.loads(raw)
        return cls(
            id=str(data["id"]),
            task=str(data["task"]),
            kwargs=dict(data.get("kwargs") or {}),
            attempts=int(data.get("attempts") or 0),
            deferrals=int(data.get("deferrals") or 0),
            error=str(data.get("error") or ""),
        )

    def failed(self, error: str) -> WorkItem:
        return replace(self, attempts=self.attempts + 1, error=error)

    def put_off(self, reason: str) -> WorkItem:
        return replace(self, deferrals=self.deferrals + 1, error=reason)


@dataclass
class LedgerCounts:
    total: int
    waiting: int
    running: int

    @property
    def idle(self) -> bool:
        return self.total == 0


# KEYS: work, sent, due. ARGV: now, limit. Moves due items to `sent` and returns their JSON.
_TAKE_DUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[3], id)
  local item = redis.call('HGET', KEYS[1], id)
  if item then
    redis.call('ZADD', KEYS[2], ARGV[1], id)
    out[#out + 1] = item
  end
end
return out
"""

# KEYS: work, run. ARGV: id, run record JSON. Records who runs an item; 1 if the item is in the ledger.
_START = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""


class WorkLedger:
    """The ledger's commands; the hand-off transactions are in `StateStore.commit`."""

    def __init__(self, client: Client) -> None:
        self.r = client
        self._take_due = client.register_script(_TAKE_DUE)
        self._start = client.register_script(_START)

    def record(self, items: Sequence[WorkItem], now: float, pipe: Any = None) -> None:
        """Add items (or replace items of the same id) as sent at `now`; joins `pipe` if given."""
        if not items:
            return
        p = pipe if pipe is not None else self.r.pipeline(transaction=True)
        p.hset(keys.WORK, mapping={i.id: i.to_json() for i in items})
        p.zadd(keys.WORK_SENT, {i.id: now for i in items})
        p.zrem(keys.WORK_DUE, *[i.id for i in items])
        if pipe is None:
            p.execute()

    def forget(self, work_id: str, pipe: Any) -> None:
        """Remove an item whose task ended (part of a transaction)."""
        pipe.hdel(keys.WORK, work_id)
        pipe.zrem(keys.WORK_SENT, work_id)
        pipe.zrem(keys.WORK_DUE, work_id)
        pipe.hdel(keys.WORK_RUN, work_id)

    def defer(self, item: WorkItem, due: float, pipe: Any) -> None:
        """Keep an item waiting until `due` (part of a transaction)."""
        pipe.hset(keys.WORK, item.id, item.to_json())
        pipe.zadd(keys.WORK_DUE, {item.id: due})
        pipe.zrem(keys.WORK_SENT, item.id)
        pipe.hdel(keys.WORK_RUN, item.id)

    def start(self, work_id: str, node: str, tag: str, now: float) -> bool:
        """Note that `node` runs the item now; False when the ledger has no such item."""
        record = json.dumps({"node": node, "tag": tag, "at": now})
        return bool(self._start(keys=[keys.WORK, keys.WORK_RUN], args=[work_id, record]))

    def get(self, work_id: str) -> WorkItem | None:
        raw = self.r.hget(keys.WORK, work_id)
        return WorkItem.from_json(raw) if raw else None

    def mark_sent(self, ids: Iterable[str], now: float) -> None:
        ids = list(ids)
        if ids:
            self.r.zadd(keys.WORK_SENT, dict.fromkeys(ids, now), xx=True)

    def take_due(self, now: float, limit: int = 1000) -> list[WorkItem]:
        """Deferred items whose time has come, marked sent: the caller publishes them."""
        raw = self._take_due(keys=[keys.WORK, keys.WORK_SENT, keys.WORK_DUE], args=[repr(now), limit])
        return [WorkItem.from_json(x) for x in raw]

    def running(self) -> dict[str, dict[str, Any]]:
        """Items a worker took: work id -> {node, tag, at}."""
        return {text(k): json.loads(v) for k, v in self.r.hgetall(keys.WORK_RUN).items()}

    def release(self, ids: Iterable[str]) -> None:
        """Forget who ran these items (their worker is gone), so they count as sent again."""
        ids = list(ids)
        if ids:
            self.r.hdel(keys.WORK_RUN, *ids)

    def stale(self, now: float, grace: float, run_lease: float) -> tuple[dict[str, WorkItem], set[str]]:
        """Candidates for publishing again: items sent more than `grace` seconds ago (not
        waiting), and the ids among them run for longer than `run_lease` (a hung or lost run)."""
        pipe = self.r.pipeline(transaction=False)
        pipe.zrangebyscore(keys.WORK_SENT, "-inf", now - grace)
        pipe.hgetall(keys.WORK_RUN)
        old_ids, runs = pipe.execute()
        ids = [text(i) for i in old_ids]
        if not ids:
            return {}, set()
        values = self.r.hmget(keys.WORK, ids)
        items = {i: WorkItem.from_json(v) for i, v in zip(ids, values, strict=True) if v is not None}
        hung = set()
        for raw_id, raw in runs.items():
            work_id = text(raw_id)
            if work_id in items and float(json.loads(raw).get("at", now)) < now - run_lease:
                hung.add(work_id)
        return items, hung

    def claim_scan(self, seconds: float) -> bool:
        """True for the one reconciler that may compare the ledger with the broker's queues now;
        the next may in `seconds` (reading every queue is the expensive part)."""
        return bool(self.r.set(keys.WORK_SCAN, "1", nx=True, px=max(1, int(seconds * 1000))))

    def counts(self) -> LedgerCounts:
        pipe = self.r.pipeline(transaction=False)
        pipe.hlen(keys.WORK)
        pipe.zcard(keys.WORK_DUE)
        pipe.hlen(keys.WORK_RUN)
        total, waiting, running = pipe.execute()
        return LedgerCounts(int(total), int(waiting), int(running))

    def oldest_sent(self) -> float | None:
        first = self.r.zrange(keys.WORK_SENT, 0, 0, withscores=True)
        return float(first[0][1]) if first else None
