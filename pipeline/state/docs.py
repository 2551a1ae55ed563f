"""Documents on their way to the search index, and the page records kept for re-cleaning."""

from __future__ import annotations

from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client

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


class PendingDocs:
    """Cleaned documents waiting for the search backend: they leave only once it has them."""

    def __init__(self, client: Client) -> None:
        self.r = client
        self._del_if_same = client.register_script(_DEL_IF_SAME)
        self._requeue = client.register_script(_REQUEUE_REJECTED)

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
        return {_text(k): _text(v) for k, v in zip(ids, values, strict=True) if v is not None}

    def settle(self, indexed: dict[str, str], rejected: dict[str, str]) -> None:
        """Drop documents the backend took or refused (unless replaced meanwhile); keep the
        refused ones aside for a replay."""
        args: list[str] = []
        for doc_id, raw in {**indexed, **rejected}.items():
            args += [doc_id, raw]
        pipe = self.r.pipeline(transaction=True)
        if rejected:
            aside: dict[Any, Any] = dict(rejected)
            pipe.hset(keys.REJECTED, mapping=aside)
        if args:
            pipe.eval(_DEL_IF_SAME, 1, keys.PENDING, *args)
        pipe.execute()

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
        return _text(raw) if raw else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
