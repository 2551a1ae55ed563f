"""Documents on their way to the search index, and the page records kept for re-cleaning."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Mapping
from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client, run_script, text
from pipeline.state.packing import pack_id

PAGE_TTL = 14 * 86400  # seconds a site's page records outlive its last page
DEFAULT_KEEP = 200  # page records kept per site

# KEYS: a site's records (hash), their ids (list, newest first). ARGV: packed page id, record,
# how many to keep, ttl. A page remembered again keeps its place; the oldest beyond `keep` go.
_REMEMBER = """
local docs, ids, page = KEYS[1], KEYS[2], ARGV[1]
if redis.call('HSET', docs, page, ARGV[2]) == 1 then
  redis.call('LPUSH', ids, page)
  local keep = tonumber(ARGV[3])
  for _, old in ipairs(redis.call('LRANGE', ids, keep, -1)) do redis.call('HDEL', docs, old) end
  redis.call('LTRIM', ids, 0, keep - 1)
end
redis.call('EXPIRE', docs, ARGV[4])
redis.call('EXPIRE', ids, ARGV[4])
return 1
"""

# Records are deflated with a preset dictionary of what every process message repeats (its
# field names, common values), which halves them; the first byte names this format.
_RECORD_FORMAT = b"\x01"
_RECORD_WORDS = (
    b'"published": null, "reason": "reclean"}"reason": "new"}, "language": "en", "site": '
    b'"charset": "utf-8", "feed": "https://", "fetched_at": "2026-01-01T00:00:00.000000+00:00", '
    b'"ref": "", "final_url": "https://{"url": "https://www.'
)

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
            run_script(pipe, self._del_if_same, [keys.PENDING], args)
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

    def add(self, docs: Mapping[str, str], pipe: Any) -> None:
        """Documents (id -> JSON) wait for the search backend (part of a transaction)."""
        if docs:
            mapping: dict[Any, Any] = dict(docs)
            pipe.hset(keys.PENDING, mapping=mapping)

    def count(self) -> int:
        return int(self.r.hlen(keys.PENDING))


class PageRecords:
    """The process message of each site's latest pages, kept so they can be cleaned again.

    Bounded per site, not per page: a site keeps the records of its last `keep` pages (the
    window its boilerplate statistics may ask to clean again), in one hash (packed page id ->
    record, deflated) and a list of those ids, newest first, under the site's hash tag. An
    older page has no record: `explain` and `reprocess` then read what the article says.
    """

    def __init__(self, client: Client, keep: int = DEFAULT_KEEP, ttl: float = PAGE_TTL) -> None:
        self.r = client
        self.keep = max(1, keep)
        self.ttl = max(1, round(ttl))
        self._remember = client.register_script(_REMEMBER)

    def remember(self, page_id: str, message_json: str, site: str | None = None) -> None:
        """Keep a page's message under its site (by default the message's own `site`)."""
        site = site or json.loads(message_json).get("site")
        if not site:
            raise ValueError(f"page record {page_id}: no site to keep it under")
        record_keys = [keys.page_records(site, "docs"), keys.page_records(site, "ids")]
        self._remember(keys=record_keys, args=[pack_id(page_id), _deflate(message_json), self.keep, self.ttl])

    def recall(self, page_id: str, site: str) -> str | None:
        """The page's message when its site still keeps it, else None."""
        raw = self.r.hget(keys.page_records(site, "docs"), pack_id(page_id))
        return _inflate(raw if isinstance(raw, bytes) else raw.encode()) if raw else None

    def count(self, site: str) -> int:
        """How many page records the site keeps."""
        return int(self.r.hlen(keys.page_records(site, "docs")))


def _deflate(message_json: str) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=_RECORD_WORDS)
    return _RECORD_FORMAT + packer.compress(message_json.encode("utf-8")) + packer.flush()


def _inflate(raw: bytes) -> str | None:
    """A record's JSON; None for one this code cannot read (another format), as if not kept."""
    if raw[:1] != _RECORD_FORMAT:
        return None
    try:
        unpacker = zlib.decompressobj(-15, zdict=_RECORD_WORDS)
        return (unpacker.decompress(raw[1:]) + unpacker.flush()).decode("utf-8")
    except (zlib.error, UnicodeDecodeError):
        return None
