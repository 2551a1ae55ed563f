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

On a Redis Cluster the ledger is split into partitions (`keys.Partition`): an item lives in
the partition its id names (`keys.partition_of_work`), and a reader of the whole ledger reads
every partition. On one Redis there is one partition: the `{core}` keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from pipeline.state import keys
from pipeline.state.client import Client, batch, text

T = TypeVar("T")


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
    def make(cls, task: str, key: str, *, place: str | None = None, **kwargs: Any) -> WorkItem:
        """An item whose id derives from the task and a key: recording it twice keeps one entry.

        `place` (a URL) puts the item in that URL's ledger partition, beside its seen entry
        (`keys.partition_of_digest`): its digest's first four hex digits are the URL's."""
        digest = hashlib.sha1(f"{task}\x00{key}".encode()).hexdigest()[:24]
        if place is not None:
            digest = hashlib.sha1(place.encode("utf-8")).hexdigest()[:4] + digest[4:]
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

# The keys a script that records work must be given, in this order (`keys.Partition.ledger`,
# one partition's: a Redis Cluster keeps them in one slot). These are the one partition's of a
# single Redis.
LEDGER_KEYS = keys.partitions(1)[0].ledger

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

# KEYS: sent, unpublished, live. ARGV: now, then which set an item must be in, then ids. Each
# item in it is counted published now, and its id returned. `sent` (any item still in the
# ledger and not waiting): the broker took these items' messages. `unpublished` (a claim): of
# these items, those recorded and not yet published; the caller, and no other publisher,
# sends their messages.
_PUBLISHED = """
local out, must = {}, KEYS[1]
if ARGV[2] == 'unpublished' then must = KEYS[2] end
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', must, id) then
    redis.call('ZADD', KEYS[1], ARGV[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZADD', KEYS[3], 0, id)
    out[#out + 1] = id
  end
end
return out
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

    def __init__(self, client: Client, parts: Sequence[keys.Partition] = keys.partitions(1)) -> None:
        self.r = client
        self.parts = tuple(parts)
        self._claim_due = client.register_script(_CLAIM_DUE)
        self._published = client.register_script(_PUBLISHED)
        self._start = client.register_script(_START)
        self._adopt = client.register_script(_ADOPT)
        self._adopted = False

    # -- partitions --------------------------------------------------------------------------------
    def part(self, work_id: str) -> keys.Partition:
        """The partition that holds an item."""
        return self.parts[keys.partition_of_work(work_id, len(self.parts))]

    def by_part(self, ids: Iterable[str]) -> dict[keys.Partition, list[str]]:
        """Ids grouped by their partition (in their order)."""
        out: dict[keys.Partition, list[str]] = {}
        for work_id in ids:
            out.setdefault(self.part(work_id), []).append(work_id)
        return out

    def _each(self, queue: Callable[[Any, keys.Partition], None]) -> list[Any]:
        """Queue one read per partition on one pipeline (a transaction on one Redis) and return
        the replies in the partitions' order."""
        pipe = batch(self.r)
        for part in self.parts:
            queue(pipe, part)
        return list(pipe.execute())

    # -- writing (the transactions of `StateStore.commit` join these) ------------------------------
    def record(self, items: Sequence[WorkItem], now: float, pipe: Any = None) -> None:
        """Add items (or replace items of the same id) as recorded at `now`, as `RECORD_LUA`
        does; joins `pipe` if given (the items must then share one partition)."""
        if not items:
            return
        if pipe is None:
            for part, group in self.by_part(i.id for i in items).items():
                chosen = set(group)
                p = self.r.pipeline(transaction=True)
                self._record(part, [i for i in items if i.id in chosen], now, p)
                p.execute()
            return
        self._record(self.part(items[0].id), items, now, pipe)

    @staticmethod
    def _record(part: keys.Partition, items: Sequence[WorkItem], now: float, p: Any) -> None:
        ids = [i.id for i in items]
        p.hset(part.work, mapping={i.id: i.to_json() for i in items})
        p.zadd(part.work_sent, dict.fromkeys(ids, now))
        p.zadd(part.work_unpub, dict.fromkeys(ids, now))
        p.zrem(part.work_due, *ids)

    def forget(self, work_id: str, pipe: Any) -> None:
        """Remove an item whose task ended (part of a transaction)."""
        part = self.part(work_id)
        pipe.hdel(part.work, work_id)
        pipe.zrem(part.work_sent, work_id)
        pipe.zrem(part.work_unpub, work_id)
        pipe.zrem(part.work_live, work_id)
        pipe.zrem(part.work_due, work_id)
        pipe.hdel(part.work_run, work_id)

    def defer(self, item: WorkItem, due: float, pipe: Any) -> None:
        """Keep an item waiting until `due`, with no message (part of a transaction)."""
        part = self.part(item.id)
        pipe.hset(part.work, item.id, item.to_json())
        pipe.zadd(part.work_due, {item.id: due})
        pipe.zrem(part.work_sent, item.id)
        pipe.zrem(part.work_unpub, item.id)
        pipe.zrem(part.work_live, item.id)
        pipe.hdel(part.work_run, item.id)

    def start(self, work_id: str, node: str, tag: str, now: float) -> bool:
        """Note that `node` runs the item now; False when the ledger has no such item."""
        record = json.dumps({"node": node, "tag": tag, "at": now})
        part = self.part(work_id)
        return bool(self._start(keys=[part.work, part.work_run], args=[work_id, record]))

    def get(self, work_id: str) -> WorkItem | None:
        raw = self.r.hget(self.part(work_id).work, work_id)
        return WorkItem.from_json(raw) if raw else None

    def mark_sent(self, ids: Iterable[str], now: float) -> None:
        """The broker took these items' messages: they are published (those still recorded)."""
        for part, group in self.by_part(ids).items():
            self._published(keys=[part.work_sent, part.work_unpub, part.work_live], args=[repr(now), "sent", *group])

    def claim_unpublished(self, ids: Iterable[str], now: float) -> set[str]:
        """Of these items, those still recorded as not published, counted published now: the
        caller sends their messages. Of two publishers of one item (a stage still sending a
        long batch, the reconciler that finds it unpublished past the grace), one claims it."""
        claimed: set[str] = set()
        for part, group in self.by_part(ids).items():
            ledger = [part.work_sent, part.work_unpub, part.work_live]
            reply = self._published(keys=ledger, args=[repr(now), "unpublished", *group])
            claimed.update(text(i) for i in reply)
        return claimed

    def claim_due(self, ids: Iterable[str], now: float) -> list[WorkItem]:
        """Of these deferred items, those still due by `now`, recorded again: the caller
        publishes them (of two reconcilers, one claims each)."""
        out: list[WorkItem] = []
        for part, group in self.by_part(ids).items():
            out += [WorkItem.from_json(x) for x in self._claim_due(keys=list(part.ledger), args=[repr(now), *group])]
        return out

    def _oldest(self, key: Callable[[keys.Partition], str], before: float, limit: int) -> dict[str, float]:
        """The members of one sorted set of every partition scored up to `before`, the lowest
        scores first (at most `limit`)."""
        replies = self._each(
            lambda pipe, part: pipe.zrangebyscore(key(part), "-inf", before, start=0, num=limit, withscores=True)
        )
        pairs = sorted(((float(t), text(i)) for reply in replies for i, t in reply), key=lambda p: p[0])
        return {i: t for t, i in pairs[:limit]}

    def due(self, now: float, limit: int = 1000) -> dict[str, float]:
        """Deferred items whose time has come: work id -> when (at most `limit`, the longest-waiting first)."""
        return self._oldest(lambda part: part.work_due, now, limit)

    def unpublished(self, before: float, limit: int = 1000) -> dict[str, float]:
        """Items recorded by `before` whose publish has not succeeded: work id -> recorded at
        (at most `limit`, the oldest first)."""
        return self._oldest(lambda part: part.work_unpub, before, limit)

    def _per_part(self, ids: Iterable[str], read: Callable[[keys.Partition, list[str]], Iterable[T]]) -> list[T]:
        """`read(partition, ids of it)` for each partition the ids fall in, a page at a time."""
        out: list[T] = []
        for part, group in self.by_part(ids).items():
            for start in range(0, len(group), PAGE):
                out += read(part, group[start : start + PAGE])
        return out

    def items(self, ids: Iterable[str]) -> dict[str, WorkItem]:
        """The ledger's entries for these ids (those it still has)."""
        return dict(
            self._per_part(
                ids,
                lambda part, chunk: (
                    (i, WorkItem.from_json(v))
                    for i, v in zip(chunk, self.r.hmget(part.work, chunk), strict=True)
                    if v is not None
                ),
            )
        )

    def sent_times(self, ids: Iterable[str]) -> dict[str, float]:
        """When each of these items was last recorded or published (those not waiting)."""
        return dict(
            self._per_part(
                ids,
                lambda part, chunk: (
                    (i, float(s))
                    for i, s in zip(chunk, self.r.zmscore(part.work_sent, chunk), strict=True)
                    if s is not None
                ),
            )
        )

    def published(self, ids: Iterable[str]) -> set[str]:
        """Those of these items the ledger counts as published (and not ended)."""
        return set(
            self._per_part(
                ids,
                lambda part, chunk: (
                    i for i, s in zip(chunk, self.r.zmscore(part.work_live, chunk), strict=True) if s is not None
                ),
            )
        )

    def live_count(self, stage: str, pipe: Any) -> None:
        """Queue on `pipe` the count of one stage's published items (ids start with `stage.`):
        one reply per partition, summed by `live_counts_from`."""
        for part in self.parts:
            pipe.zlexcount(part.work_live, f"[{stage}.", f"({stage}/")

    def live_counts_from(self, stages: Sequence[str], replies: Sequence[Any]) -> dict[str, int]:
        n = len(self.parts)
        return {stage: sum(int(x) for x in replies[i * n : (i + 1) * n]) for i, stage in enumerate(stages)}

    def live_ids(self, stage: str, page: int = PAGE) -> list[str]:
        """Ids of one stage's published items (read only when its counts disagree), a page at a
        time so that Redis answers others in between."""
        out: list[str] = []
        for part in self.parts:
            low = f"[{stage}."
            while True:
                chunk = [text(i) for i in self.r.zrangebylex(part.work_live, low, f"({stage}/", start=0, num=page)]
                out += chunk
                if len(chunk) < page:
                    break
                low = "(" + chunk[-1]
        return out

    def read_runs(self, pipe: Any) -> None:
        """Queue on `pipe` the read of who runs what (one reply per partition, read back with `runs_from`)."""
        for part in self.parts:
            pipe.hgetall(part.work_run)

    @staticmethod
    def runs_from(replies: Sequence[dict[Any, Any]]) -> dict[str, Run]:
        return {text(k): Run.from_json(v) for reply in replies for k, v in reply.items()}

    def running(self) -> dict[str, Run]:
        """Items a worker took: work id -> who runs it since when."""
        return self.runs_from(self._each(lambda pipe, part: pipe.hgetall(part.work_run)))

    def release(self, ids: Iterable[str]) -> None:
        """Forget who ran these items (their worker is gone), so they count as sent again."""
        for part, group in self.by_part(ids).items():
            self.r.hdel(part.work_run, *group)

    def adopt_earlier_layout(self, batch: int = 10_000) -> int:
        """Once per ledger (and checked once per process): items an earlier newsflow recorded
        count as unpublished; returns how many were adopted."""
        if self._adopted:
            return 0
        adopted = 0
        if not self.r.exists(keys.WORK_LAYOUT):
            for part in self.parts:
                start = 0
                while ids := [
                    text(i)
                    for i in self.r.zrange(part.work_sent, start, start + batch - 1)
                    if isinstance(i, bytes | str)
                ]:
                    adopted += int(self._adopt(keys=[part.work_sent, part.work_unpub, part.work_live], args=ids))
                    start += len(ids)
            self.r.set(keys.WORK_LAYOUT, "live")
        self._adopted = True
        return adopted

    def claim_scan(self, seconds: float) -> bool:
        """True for the one reconciler that may read a stage's queue now (the counts disagreed);
        the next may in `seconds`."""
        return bool(self.r.set(keys.WORK_SCAN, "1", nx=True, px=max(1, int(seconds * 1000))))

    def counts(self) -> LedgerCounts:
        replies = [
            int(x) for x in self._each(lambda pipe, part: pipe.hlen(part.work).zcard(part.work_due).hlen(part.work_run))
        ]
        return LedgerCounts(sum(replies[0::3]), sum(replies[1::3]), sum(replies[2::3]))

    def oldest_sent(self) -> float | None:
        firsts = self._each(lambda pipe, part: pipe.zrange(part.work_sent, 0, 0, withscores=True))
        times = [float(first[0][1]) for first in firsts if first]
        return min(times, default=None)
