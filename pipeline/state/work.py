"""The work ledger: every queued unit of work is recorded in Redis before it is published.

A stage records its output (the next stage's work items) and its marks (a URL is seen, a
document is pending) in one Redis script or transaction, then publishes the items to the
broker. The broker is only the delivery: if a message is lost (a worker killed between
taking it and acknowledging it, a publish cut off by a crash, an acknowledgement that
failed during an outage), the item is still in the ledger, and the reconciler publishes it
again (`pipeline.delivery` decides, `workers.handoff` acts). Every stage is idempotent, so
publishing twice costs work, never correctness.

An item is in one of four states, each a set of keys (`keys.WORK*`):

    recorded   WORK, WORK_SENT (since when), WORK_UNPUB: its message may not exist yet
    published  WORK, WORK_SENT (when it was handed over), WORK_LIVE: the broker carries it
    running    published, and WORK_RUN (its worker's node, the delivery tag, since when)
    waiting    WORK, WORK_DUE (until when): deferred (a retry back-off, a busy host), no message

It leaves every key when its task ends: done, dropped or dead-lettered. WORK_LIVE holds its
ids with equal scores, so the published items of one stage are counted by their prefix
(`fetch.page:...`) in one command, whatever the backlog: the reconciler compares that count
with what the stage's queue carries and reads messages only where the two disagree.

This module is the ledger's only writer. The scripts of other stores that record work (a
feed's entry claim, an import's batch, a dead letter's replay) take `RECORD_LUA` from here.
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


@dataclass(frozen=True)
class Run:
    """Who runs an item: the worker's node name, the broker's delivery tag, and since when."""

    node: str
    tag: str
    at: float

    @classmethod
    def from_json(cls, raw: str | bytes) -> Run:
        data = json.loads(raw)
        return cls(str(data.get("node") or ""), str(data.get("tag") or ""), float(data.get("at") or 0.0))


@dataclass
class LedgerCounts:
    total: int
    waiting: int
    running: int

    @property
    def idle(self) -> bool:
        return self.total == 0


PAGE = 10_000  # ids or messages per command when a backlog is read

# The keys a script that records work must be given, in this order (Redis Cluster keeps them
# in one slot: see keys.py).
LEDGER_KEYS = (keys.WORK, keys.WORK_SENT, keys.WORK_UNPUB, keys.WORK_DUE)

# Lua for scripts that record work: record_work(k, id, item JSON, now), where `k` is a table of
# the LEDGER_KEYS. Recording an item that is already there replaces it and counts as recorded
# again (its next publish is due); a published item keeps its place among the live ones.
RECORD_LUA = """
local function record_work(k, id, item, now)
  redis.call('HSET', k[1], id, item)
  redis.call('ZADD', k[2], now, id)
  redis.call('ZADD', k[3], now, id)
  redis.call('ZREM', k[4], id)
end
"""

# KEYS: LEDGER_KEYS. ARGV: now, then ids. Records again the items among `ids` still due by
# `now` (deferred work whose time came) and returns their JSON: the caller publishes them.
_CLAIM_DUE = (
    RECORD_LUA
    + """
local k, out = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}, {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local due = redis.call('ZSCORE', KEYS[4], id)
  local item = redis.call('HGET', KEYS[1], id)
  if due and item and tonumber(due) <= tonumber(ARGV[1]) then
    record_work(k, id, item, ARGV[1])
    out[#out + 1] = item
  end
end
return out
"""
)

# KEYS: work, sent, unpublished, live. ARGV: now, then ids. The broker took these items'
# messages: each still in the ledger (and not waiting) is published now.
_PUBLISHED = """
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', KEYS[2], id) then
    redis.call('ZADD', KEYS[2], ARGV[1], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZADD', KEYS[4], 0, id)
  end
end
return 0
"""

# KEYS: sent, unpublished, live. ARGV: ids. An item recorded by a newsflow before `work:live`
# existed is in `sent` alone: it counts as recorded and not published, so the reconciler
# publishes it once (a lost one comes back; one still queued costs a duplicate run).
_ADOPT = """
local n = 0
for i = 1, #ARGV do
  local id = ARGV[i]
  local at = redis.call('ZSCORE', KEYS[1], id)
  if at and not redis.call('ZSCORE', KEYS[2], id) and not redis.call('ZSCORE', KEYS[3], id) then
    redis.call('ZADD', KEYS[2], at, id)
    n = n + 1
  end
end
return n
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
        self._claim_due = client.register_script(_CLAIM_DUE)
        self._published = client.register_script(_PUBLISHED)
        self._start = client.register_script(_START)
        self._adopt = client.register_script(_ADOPT)
        self._adopted = False

    # -- writing (the transactions of `StateStore.commit` join these) ------------------------------
    def record(self, items: Sequence[WorkItem], now: float, pipe: Any = None) -> None:
        """Add items (or replace items of the same id) as recorded at `now`, as `RECORD_LUA`
        does; joins `pipe` if given."""
        if not items:
            return
        p = pipe if pipe is not None else self.r.pipeline(transaction=True)
        ids = [i.id for i in items]
        p.hset(keys.WORK, mapping={i.id: i.to_json() for i in items})
        p.zadd(keys.WORK_SENT, dict.fromkeys(ids, now))
        p.zadd(keys.WORK_UNPUB, dict.fromkeys(ids, now))
        p.zrem(keys.WORK_DUE, *ids)
        if pipe is None:
            p.execute()

    def forget(self, work_id: str, pipe: Any) -> None:
        """Remove an item whose task ended (part of a transaction)."""
        pipe.hdel(keys.WORK, work_id)
        pipe.zrem(keys.WORK_SENT, work_id)
        pipe.zrem(keys.WORK_UNPUB, work_id)
        pipe.zrem(keys.WORK_LIVE, work_id)
        pipe.zrem(keys.WORK_DUE, work_id)
        pipe.hdel(keys.WORK_RUN, work_id)

    def defer(self, item: WorkItem, due: float, pipe: Any) -> None:
        """Keep an item waiting until `due`, with no message (part of a transaction)."""
        pipe.hset(keys.WORK, item.id, item.to_json())
        pipe.zadd(keys.WORK_DUE, {item.id: due})
        pipe.zrem(keys.WORK_SENT, item.id)
        pipe.zrem(keys.WORK_UNPUB, item.id)
        pipe.zrem(keys.WORK_LIVE, item.id)
        pipe.hdel(keys.WORK_RUN, item.id)

    def start(self, work_id: str, node: str, tag: str, now: float) -> bool:
        """Note that `node` runs the item now; False when the ledger has no such item."""
        record = json.dumps({"node": node, "tag": tag, "at": now})
        return bool(self._start(keys=[keys.WORK, keys.WORK_RUN], args=[work_id, record]))

    def get(self, work_id: str) -> WorkItem | None:
        raw = self.r.hget(keys.WORK, work_id)
        return WorkItem.from_json(raw) if raw else None

    def mark_sent(self, ids: Iterable[str], now: float) -> None:
        """The broker took these items' messages: they are published (those still recorded)."""
        ids = list(ids)
        if ids:
            self._published(keys=[keys.WORK, keys.WORK_SENT, keys.WORK_UNPUB, keys.WORK_LIVE], args=[repr(now), *ids])

    def claim_due(self, ids: Iterable[str], now: float) -> list[WorkItem]:
        """Of these deferred items, those still due by `now`, recorded again: the caller
        publishes them (of two reconcilers, one claims each)."""
        ids = list(ids)
        if not ids:
            return []
        return [WorkItem.from_json(x) for x in self._claim_due(keys=list(LEDGER_KEYS), args=[repr(now), *ids])]

    def due(self, now: float, limit: int = 1000) -> dict[str, float]:
        """Deferred items whose time has come: work id -> when (at most `limit`, the longest-waiting first)."""
        pairs: list[tuple[bytes, float]] = self.r.zrangebyscore(  # type: ignore[assignment]  # redis-py's union
            keys.WORK_DUE, "-inf", now, start=0, num=limit, withscores=True
        )
        return {text(i): float(t) for i, t in pairs}

    def unpublished(self, before: float, limit: int = 1000) -> dict[str, float]:
        """Items recorded by `before` whose publish has not succeeded: work id -> recorded at
        (at most `limit`, the oldest first)."""
        pairs: list[tuple[bytes, float]] = self.r.zrangebyscore(  # type: ignore[assignment]  # redis-py's union
            keys.WORK_UNPUB, "-inf", before, start=0, num=limit, withscores=True
        )
        return {text(i): float(t) for i, t in pairs}

    def items(self, ids: Iterable[str]) -> dict[str, WorkItem]:
        """The ledger's entries for these ids (those it still has)."""
        ids = list(ids)
        if not ids:
            return {}
        values = self.r.hmget(keys.WORK, ids)
        return {i: WorkItem.from_json(v) for i, v in zip(ids, values, strict=True) if v is not None}

    def sent_times(self, ids: Iterable[str]) -> dict[str, float]:
        """When each of these items was last recorded or published (those not waiting)."""
        ids = list(ids)
        if not ids:
            return {}
        out: dict[str, float] = {}
        for start in range(0, len(ids), PAGE):
            chunk = ids[start : start + PAGE]
            scores = self.r.zmscore(keys.WORK_SENT, chunk)
            out.update((i, float(s)) for i, s in zip(chunk, scores, strict=True) if s is not None)
        return out

    def published(self, ids: Iterable[str]) -> set[str]:
        """Those of these items the ledger counts as published (and not ended)."""
        ids = list(ids)
        if not ids:
            return set()
        return {i for i, s in zip(ids, self.r.zmscore(keys.WORK_LIVE, ids), strict=True) if s is not None}

    def live_count(self, stage: str, pipe: Any) -> None:
        """Queue the count of one stage's published items on `pipe` (ids start with `stage.`)."""
        pipe.zlexcount(keys.WORK_LIVE, f"[{stage}.", f"({stage}/")

    def live_ids(self, stage: str, page: int = PAGE) -> list[str]:
        """Ids of one stage's published items (read only when its counts disagree), a page at a
        time so that Redis answers others in between."""
        out: list[str] = []
        low = f"[{stage}."
        while True:
            chunk = [text(i) for i in self.r.zrangebylex(keys.WORK_LIVE, low, f"({stage}/", start=0, num=page)]
            out += chunk
            if len(chunk) < page:
                return out
            low = "(" + chunk[-1]

    def read_runs(self, pipe: Any) -> None:
        """Queue on `pipe` the read of who runs what (read back with `runs_from`)."""
        pipe.hgetall(keys.WORK_RUN)

    @staticmethod
    def runs_from(reply: dict[Any, Any]) -> dict[str, Run]:
        return {text(k): Run.from_json(v) for k, v in reply.items()}

    def running(self) -> dict[str, Run]:
        """Items a worker took: work id -> who runs it since when."""
        return self.runs_from(self.r.hgetall(keys.WORK_RUN))

    def release(self, ids: Iterable[str]) -> None:
        """Forget who ran these items (their worker is gone), so they count as sent again."""
        ids = list(ids)
        if ids:
            self.r.hdel(keys.WORK_RUN, *ids)

    def adopt_earlier_layout(self, batch: int = 10_000) -> int:
        """Once per ledger (and checked once per process): items an earlier newsflow recorded
        count as unpublished; returns how many were adopted."""
        if self._adopted:
            return 0
        adopted = 0
        if not self.r.exists(keys.WORK_LAYOUT):
            start = 0
            while ids := [
                text(i) for i in self.r.zrange(keys.WORK_SENT, start, start + batch - 1) if isinstance(i, bytes | str)
            ]:
                adopted += int(self._adopt(keys=[keys.WORK_SENT, keys.WORK_UNPUB, keys.WORK_LIVE], args=ids))
                start += len(ids)
            self.r.set(keys.WORK_LAYOUT, "live")
        self._adopted = True
        return adopted

    def claim_scan(self, seconds: float) -> bool:
        """True for the one reconciler that may read a stage's queue now (the counts disagreed);
        the next may in `seconds`."""
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
