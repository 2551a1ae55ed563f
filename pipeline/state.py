"""Shared state in Redis: seen URLs, per-host politeness, counters, dead letters.

Everything a worker learns that another worker needs lives here, never in process memory.
Keys all start with `nf:`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis

PREFIX = "nf:"
SEEN_PREFIX = PREFIX + "seen:"  # + generation number: one set of URL digests per period
SEEN_GENERATIONS = 4  # the current period and the three before it are consulted
DEFAULT_SEEN_RETENTION = 180 * 86400.0
DEFAULT_DEAD_LETTERS_MAX = 100_000
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


# Claim URL digests: ARGV = ttl seconds, then digests. KEYS = the seen generations, the
# current one first. A digest is new when no generation holds it; it joins the current one.
_CLAIM_URLS = """
local out = {}
for i = 2, #ARGV do
  local known = 0
  for k = 1, #KEYS do
    if redis.call('SISMEMBER', KEYS[k], ARGV[i]) == 1 then known = 1 break end
  end
  if known == 0 then redis.call('SADD', KEYS[1], ARGV[i]) end
  out[#out + 1] = 1 - known
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return out
"""


class StateStore:
    """Thin, typed wrapper over the Redis keys newsflow shares between workers.

    Seen URLs are remembered for `seen_retention` seconds (at least; up to a third more),
    in one set per period of a third of that: memory stays bounded however long the
    service runs, and an article linked again after that long is simply fetched again
    (its canonical URL and content hash still keep one copy in the index).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        seen_retention: float = DEFAULT_SEEN_RETENTION,
        dead_letters_max: int = DEFAULT_DEAD_LETTERS_MAX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.r = client
        self.dead_letters_max = max(1, dead_letters_max)
        self._reserve = client.register_script(_RESERVE_SLOT)
        self._claim = client.register_script(_CLAIM_URLS)
        self.seen_period = max(1.0, seen_retention / (SEEN_GENERATIONS - 1))
        self._clock = clock

    # -- seen URLs ------------------------------------------------------------------------
    def window_keys(self, prefix: str) -> list[str]:
        """The generations of a windowed key to consult, the current one (where writes go) first."""
        current = int(self._clock() // self.seen_period)
        return [f"{prefix}{current - age}" for age in range(SEEN_GENERATIONS)]

    def seen_keys(self) -> list[str]:
        return self.window_keys(SEEN_PREFIX)

    @property
    def seen_ttl(self) -> int:
        return int(self.seen_period * SEEN_GENERATIONS) + 1

    def claim_urls(self, digests: list[str]) -> list[bool]:
        """For each URL digest, True when this caller claimed it (no one had seen it)."""
        if not digests:
            return []
        return [bool(x) for x in self._claim(keys=self.seen_keys(), args=[self.seen_ttl, *digests])]

    def claim_url(self, canonical_url: str) -> bool:
        """True for the first caller to claim this URL; False if it was seen before."""
        return self.claim_urls([url_digest(canonical_url)])[0]

    def release_url(self, canonical_url: str) -> None:
        """Forget a claim whose work could not be queued, so the next poll tries again."""
        digest = url_digest(canonical_url)
        pipe = self.r.pipeline()
        for key in self.seen_keys():
            pipe.srem(key, digest)
        pipe.execute()

    def seen_count(self) -> int:
        pipe = self.r.pipeline()
        for key in self.seen_keys():
            pipe.scard(key)
        return sum(int(n) for n in pipe.execute())

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
        """Keep a failed task with its error, for `newsflow dead-letters` and `reprocess`.

        The list keeps the newest `dead_letters_max` entries; older ones are dropped and
        counted (`dead_letters_trimmed`), so years of bad links cannot fill Redis.
        """
        entry = {"task": task, "args": list(args), "error": error, "at": time.time()}
        pipe = self.r.pipeline()
        pipe.rpush(DEAD_KEY, json.dumps(entry, ensure_ascii=False, default=str))
        pipe.ltrim(DEAD_KEY, -self.dead_letters_max, -1)
        length, _ = pipe.execute()
        self.incr("failed")
        if int(length) > self.dead_letters_max:
            self.incr("dead_letters_trimmed", int(length) - self.dead_letters_max)

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
