"""Documents on their way to the search index, and the page records kept for re-cleaning."""

from __future__ import annotations

import time
from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client, text

PAGE_TTL = 14 * 86400

# Delete a pending document only if nobody replaced it while we indexed the old value.
_DEL_IF_SAME = """
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1
"""

# KEYS: rejected, pending. ARGV: doc ids. Moves refused documents back to pending.
_REQUEUE_REJECTED = """
local moved = 0
for _, id in ipairs(ARGV) do
  local doc = redis.call('HGET', KEYS[1], id)
  if doc then
    redis.call('HSET', KEYS[2], id, doc)
    redis.call('HDEL', KEYS[1], id)
    moved = moved + 1
  end
end
return moved
"""


# KEYS: suspect, recent, recent docs, pending. ARGV: window seconds. When the backend stopped
# answering at time t, the documents it took in the window before t go back to pending
# (unless a newer version waits there already); the mark is cleared. Returns how many.
_RESEND_RECENT = """
local t = redis.call('GET', KEYS[1])
if not t then return 0 end
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], tonumber(t) - tonumber(ARGV[1]), '+inf')
local n = 0
for _, id in ipairs(ids) do
  local doc = redis.call('HGET', KEYS[3], id)
  if doc then n = n + redis.call('HSETNX', KEYS[4], id, doc) end
end
redis.call('DEL', KEYS[1])
return n
"""

RECENT_WINDOW = 120.0  # seconds of indexed documents kept to send again after a backend outage
RECENT_MAX = 5000  # and at most this many


class PendingDocs:
    """Cleaned documents waiting for the search backend: they leave only once it has them.

    The documents the backend took in the last `RECENT_WINDOW` seconds are kept a little
    longer: a backend that went away may not have made its last acknowledged writes durable
    (a real cluster does, with its default translog settings; a single node killed, or an
    Elasticsearch stand-in, may not). When it answers again, those are sent once more
    (`resend_recent`); indexing is idempotent, so a durable backend only pays a few writes.
    """

    def __init__(self, client: Client) -> None:
        self.r = client
        self._del_if_same = client.register_script(_DEL_IF_SAME)
        self._requeue = client.register_script(_REQUEUE_REJECTED)
        self._resend = client.register_script(_RESEND_RECENT)

    def batch(self, size: int) -> dict[str, str]:
        """Up to `size` pending documents: doc id -> document JSON."""
        ids: list[bytes] = []
        cursor = 0
        while True:
            cursor, chunk = self.r.hscan(keys.PENDING, cursor, count=size)
            ids.extend(k if isinstance(k, bytes) else k.encode() for k in chunk)
            if cursor == 0 or len(ids) >= size:
                break
        ids = ids[:size]
        if not ids:
            return {}
        values = self.r.hmget(keys.PENDING, ids)
        return {text(k): text(v) for k, v in zip(ids, values, strict=True) if v is not None}

    def settle(self, indexed: dict[str, str], rejected: dict[str, str], now: float | None = None) -> None:
        """Drop documents the backend took or refused (unless replaced meanwhile); keep the
        refused ones aside for a replay, and the taken ones for a short while (see the class)."""
        now = time.time() if now is None else now
        args: list[str] = []
        for doc_id, raw in {**indexed, **rejected}.items():
            args += [doc_id, raw]
        pipe = self.r.pipeline(transaction=True)
        if rejected:
            aside: dict[Any, Any] = dict(rejected)
            pipe.hset(keys.REJECTED, mapping=aside)
        if args:
            pipe.eval(_DEL_IF_SAME, 1, keys.PENDING, *args)
        if indexed:
            taken: dict[Any, Any] = dict(indexed)
            pipe.hset(keys.RECENT_DOCS, mapping=taken)
            pipe.zadd(keys.RECENT, dict.fromkeys(indexed, now))
        pipe.execute()
        if indexed:
            self._trim_recent(now)

    def _trim_recent(self, now: float) -> None:
        old: list[Any] = list(self.r.zrangebyscore(keys.RECENT, "-inf", now - RECENT_WINDOW))
        extra = max(0, int(self.r.zcard(keys.RECENT)) - RECENT_MAX - len(old))
        if extra:
            old += list(self.r.zrange(keys.RECENT, len(old), len(old) + extra - 1))
        if old:
            pipe = self.r.pipeline(transaction=True)
            pipe.zrem(keys.RECENT, *old)
            pipe.hdel(keys.RECENT_DOCS, *old)
            pipe.execute()

    def mark_backend_away(self, now: float) -> None:
        """The backend did not answer: remember since when (the first time only)."""
        self.r.set(keys.SUSPECT, repr(now), nx=True)

    def resend_recent(self) -> int:
        """After an outage, put what the backend took just before it back in pending; 0 when
        there was no outage."""
        return int(self._resend(keys=[keys.SUSPECT, keys.RECENT, keys.RECENT_DOCS, keys.PENDING], args=[RECENT_WINDOW]))

    def requeue_rejected(self, doc_ids: list[str]) -> int:
        """Move refused documents back to pending (a replay); returns how many moved."""
        if not doc_ids:
            return 0
        return int(self._requeue(keys=[keys.REJECTED, keys.PENDING], args=doc_ids))

    def count(self) -> int:
        return int(self.r.hlen(keys.PENDING))


class PageRecords:
    """The process message of each page, kept `PAGE_TTL` seconds so it can be cleaned again."""

    def __init__(self, client: Client) -> None:
        self.r = client

    def remember(self, page_id: str, message_json: str) -> None:
        self.r.set(keys.page_record(page_id), message_json, ex=PAGE_TTL)

    def recall(self, page_id: str) -> str | None:
        raw = self.r.get(keys.page_record(page_id))
        return text(raw) if raw else None
