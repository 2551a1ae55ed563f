"""Shared state in Redis: seen URLs, per-host politeness, counters, dead letters.

Everything a worker learns that another worker needs lives here, never in process memory.
Keys all start with `nf:`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any

import redis

PREFIX = "nf:"
SEEN_KEY = PREFIX + "seen"
STATS_KEY = PREFIX + "stats"
DEAD_KEY = PREFIX + "dead"
FEEDS_KEY = PREFIX + "feeds"  # hash: feed id -> feed config JSON

# Reserve the next request slot for a host: returns seconds to wait before sending.
# Uses the server's clock, so workers on hosts with skewed clocks still agree.
_RESERVE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local delay = tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = now
if nxt > now then slot = nxt end
redis.call('SET', KEYS[1], tostring(slot + delay), 'PX', math.ceil((slot - now + delay) * 1000) + 1000)
return tostring(slot - now)
"""


def text(value: bytes | str) -> str:
    """A Redis reply as text (clients here return bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def url_digest(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:20]


class StateStore:
    """Thin, typed wrapper over the Redis keys newsflow shares between workers."""

    def __init__(self, client: redis.Redis) -> None:
        self.r = client
        self._reserve = client.register_script(_RESERVE_SLOT)

    # -- seen URLs ------------------------------------------------------------------------
    def claim_url(self, canonical_url: str) -> bool:
        """True for the first caller to claim this URL; False if it was seen before."""
        return bool(self.r.sadd(SEEN_KEY, url_digest(canonical_url)))

    def release_url(self, canonical_url: str) -> None:
        """Forget a claim whose work could not be queued, so the next poll tries again."""
        self.r.srem(SEEN_KEY, url_digest(canonical_url))

    def seen_count(self) -> int:
        return int(self.r.scard(SEEN_KEY))

    # -- politeness -----------------------------------------------------------------------
    def reserve_host_slot(self, host: str, delay: float) -> float:
        """Seconds the caller must wait before its request to `host`; 0 when delay is 0."""
        if delay <= 0:
            return 0.0
        return max(0.0, float(self._reserve(keys=[f"{PREFIX}host:{host}:next"], args=[delay])))

    # -- counters -------------------------------------------------------------------------
    def incr(self, name: str, amount: int = 1) -> None:
        self.r.hincrby(STATS_KEY, name, amount)

    def stats(self) -> dict[str, int]:
        return {text(k): int(v) for k, v in self.r.hgetall(STATS_KEY).items()}

    # -- dead letters ---------------------------------------------------------------------
    def dead_letter(self, task: str, args: Iterable[Any], error: str) -> None:
        entry = {"task": task, "args": list(args), "error": error, "at": time.time()}
        self.r.rpush(DEAD_KEY, json.dumps(entry, ensure_ascii=False, default=str))
        self.incr("failed")

    def dead_letters(self, start: int = 0, end: int = -1) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.r.lrange(DEAD_KEY, start, end)]

    def dead_count(self) -> int:
        return int(self.r.llen(DEAD_KEY))

    def pop_dead_letters(self) -> list[dict[str, Any]]:
        """Take every dead letter out (for replay)."""
        pipe = self.r.pipeline()
        pipe.lrange(DEAD_KEY, 0, -1)
        pipe.delete(DEAD_KEY)
        items, _ = pipe.execute()
        return [json.loads(x) for x in items]

    # -- feed state -----------------------------------------------------------------------
    def feed_state(self, feed_id: str) -> dict[str, str]:
        return {text(k): text(v) for k, v in self.r.hgetall(f"{PREFIX}feed:{feed_id}").items()}

    def update_feed_state(self, feed_id: str, **fields: Any) -> None:
        if not fields:
            return
        pipe = self.r.pipeline()
        for name, value in fields.items():
            pipe.hset(f"{PREFIX}feed:{feed_id}", name, "" if value is None else str(value))
        pipe.execute()

    def bump_feed_counter(self, feed_id: str, name: str, amount: int = 1) -> int:
        return int(self.r.hincrby(f"{PREFIX}feed:{feed_id}", name, amount))
