"""Dead letters: work that failed for good, kept with its error for an operator to replay."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client
from pipeline.state.work import RECORD_LUA, WorkItem, WorkLedger

DEFAULT_MAX = 100_000

# KEYS: dead, then the ledger's keys (`work.LEDGER_KEYS`). ARGV: now, max to take. Takes the
# oldest dead letters out and records their work in the ledger in one step, so a replay
# interrupted at any point loses none.
_TAKE_FOR_REPLAY = (
    RECORD_LUA
    + """
local ledger = {KEYS[2], KEYS[3], KEYS[4], KEYS[5]}
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local out = {}
for _, raw in ipairs(items) do
  local letter = cjson.decode(raw)
  local work, wid = letter['work'], letter['work_id']
  if type(work) == 'string' and type(wid) == 'string' then record_work(ledger, wid, work, ARGV[1]) end
  out[#out + 1] = raw
end
redis.call('LTRIM', KEYS[1], #items, -1)
return out
"""
)


@dataclass
class DeadLetter:
    """A failed task: its work item (to replay), the error, and when."""

    task: str
    error: str
    work: WorkItem | None = None
    args: list[Any] = field(default_factory=list)  # what the task was given, for people to read
    at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        doc: dict[str, Any] = {"task": self.task, "args": self.args, "error": self.error, "at": self.at}
        if self.work is not None:
            # Kept as a string, so the replay script moves it to the ledger byte for byte.
            doc["work"] = self.work.to_json()
            doc["work_id"] = self.work.id
        return json.dumps(doc, ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, raw: str | bytes) -> DeadLetter:
        doc = json.loads(raw)
        work = WorkItem.from_json(doc["work"]) if isinstance(doc.get("work"), str) else None
        return cls(
            task=str(doc.get("task", "")),
            error=str(doc.get("error", "")),
            work=work,
            args=list(doc.get("args") or []),
            at=float(doc.get("at") or 0),
        )

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"task": self.task, "args": self.args, "error": self.error, "at": self.at}
        if self.work is not None:
            doc["work"] = json.loads(self.work.to_json())
        return doc


class DeadLetters:
    """A capped list: the newest `limit` letters stay; older ones are dropped and counted."""

    def __init__(self, client: Client, limit: int = DEFAULT_MAX, work: WorkLedger | None = None) -> None:
        self.r = client
        self.limit = max(1, limit)
        self.work = work or WorkLedger(client)
        self._take = client.register_script(_TAKE_FOR_REPLAY)

    def add(self, letter: DeadLetter, pipe: Any) -> None:
        """Append a letter and trim the list (part of a transaction)."""
        pipe.rpush(keys.DEAD, letter.to_json())
        pipe.ltrim(keys.DEAD, -self.limit, -1)

    def entries(self, start: int = 0, end: int = -1) -> list[DeadLetter]:
        return [DeadLetter.from_json(x) for x in self.r.lrange(keys.DEAD, start, end)]

    def count(self) -> int:
        return int(self.r.llen(keys.DEAD))

    def take_for_replay(self, now: float, limit: int = 1000) -> list[DeadLetter]:
        """Take up to `limit` of the oldest letters out; their work is back in the ledger.

        On a partitioned ledger (a Redis Cluster) their work is recorded first and the letters
        are taken out after: a replay cut off in between (or run twice at once) replays a
        letter twice, which costs a run, not the work."""
        if len(self.work.parts) == 1:
            ledger = self.work.parts[0].ledger
            return [DeadLetter.from_json(x) for x in self._take(keys=[keys.DEAD, *ledger], args=[repr(now), limit])]
        raw = list(self.r.lrange(keys.DEAD, 0, limit - 1))
        letters = [DeadLetter.from_json(x) for x in raw]
        self.work.record([letter.work for letter in letters if letter.work is not None], now)
        if raw:
            self.r.ltrim(keys.DEAD, len(raw), -1)
        return letters
