"""Seen URLs: a compact, windowed set of URL digests, so memory stays bounded and small.

A URL is remembered for `retention` seconds at least; an article linked again after that
long is fetched again (its canonical URL and content hash still keep one copy in the index).
The set is a `ShardedKeys` map (`shards.py`) in the hand-off slot, about a dozen bytes a URL:
the client works out which shards a claim reads and writes, and the claim itself is one
script (here, or with the feed entries in `feeds.py`), so it is atomic with what goes with it.
Two URLs that fall in one shard with the same 40-bit field are taken for one: among 18 million
URLs (100,000 a day for 180 days) that happens less than once in a thousand windows.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.state import keys
from pipeline.state.client import Client
from pipeline.state.shards import ShardedKeys

DEFAULT_RETENTION = 180 * 86400.0

# Lua shared by the claim scripts. `claim_url(first, n, field, ttl)`: the URL whose field is
# given is new when none of the n shards KEYS[first..first+n-1] (one per live epoch, the
# current first) holds it; a new one joins the current epoch's shard. Returns 1 when new.
# `count_claimed` then counts the new ones in the epoch table, and dates its last write.
CLAIM_URL_LUA = """
local function claim_url(first, n, field, ttl)
  for k = first, first + n - 1 do
    if redis.call('HEXISTS', KEYS[k], field) == 1 then return 0 end
  end
  redis.call('HSET', KEYS[first], field, 1)
  redis.call('EXPIRE', KEYS[first], ttl)
  return 1
end
local function count_claimed(epochs, epoch, added, now)
  if added > 0 then
    redis.call('HINCRBY', epochs, epoch .. ':n', added)
    redis.call('HSET', epochs, epoch .. ':w', now)
  end
end
"""

# KEYS: the epoch table, then n shards per digest. ARGV: ttl, now, current epoch, n, fields.
_CLAIM = (
    CLAIM_URL_LUA
    + """
local ttl, now, cur, n = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local out, added = {}, 0
for i = 5, #ARGV do
  local new = claim_url(2 + (i - 5) * n, n, ARGV[i], ttl)
  added = added + new
  out[#out + 1] = new
end
count_claimed(KEYS[1], cur, added, now)
return out
"""
)


def url_digest(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:20]


def guid_digest(guid: str) -> str:
    """What a feed's GUID map keeps of a GUID: GUIDs are often whole URLs."""
    return hashlib.sha1(guid.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ClaimPlan:
    """What a claim script needs: the shards to read (n per digest, the current epoch's first),
    each digest's field, and the current epoch (whose count the script raises)."""

    shards: list[str]
    fields: list[bytes]
    epoch: int
    per_digest: int


class SeenUrls:
    def __init__(
        self, client: Client, retention: float = DEFAULT_RETENTION, clock: Callable[[], float] = time.time
    ) -> None:
        self.r = client
        self.ttl = int(retention) + 1
        self._clock = clock
        self.index = ShardedKeys(client, keys.SEEN_EPOCHS, keys.seen_shard)
        self._claim = client.register_script(_CLAIM)

    def now(self) -> float:
        return self._clock()

    def plan(self, digests: list[str]) -> ClaimPlan:
        """Open the current epoch (the next one if this one is full) and place the digests."""
        epochs = self.index.open(self._clock(), 0, self.ttl)
        shards: list[str] = []
        fields: list[bytes] = []
        for digest in digests:
            key = int(digest[:16], 16)
            for epoch in epochs:
                shard, field = self.index.place(epoch, key)
                shards.append(shard)
            fields.append(field)
        return ClaimPlan(shards, fields, epochs[0].number, len(epochs))

    def claim_digests(self, digests: list[str]) -> list[bool]:
        """For each URL digest, True when this caller claimed it (no one had seen it)."""
        if not digests:
            return []
        plan = self.plan(digests)
        args: list[int | str | bytes] = [self.ttl, repr(self._clock()), plan.epoch, plan.per_digest, *plan.fields]
        return [bool(x) for x in self._claim(keys=[keys.SEEN_EPOCHS, *plan.shards], args=args)]

    def claim(self, canonical_url: str) -> bool:
        """True for the first caller to claim this URL; False if it was seen before."""
        return self.claim_digests([url_digest(canonical_url)])[0]

    def count(self) -> int:
        """URLs claimed within the window."""
        return self.index.count(self._clock(), self.ttl)
