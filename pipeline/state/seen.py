"""Seen URLs: a compact, windowed set of URL digests, so memory stays bounded and small.

A URL is remembered for `retention` seconds at least; an article linked again after that
long is fetched again (its canonical URL and content hash still keep one copy in the index).
The set is a `ShardedKeys` map (`shards.py`) in the hand-off slot, about a dozen bytes a URL:
the client works out which shards a claim reads and writes, and the claim itself is one
script (here, or with the feed entries in `feeds.py`), so it is atomic with what goes with it.
Two URLs that fall in one shard with the same 40-bit field are taken for one: among 18 million
URLs (100,000 a day for 180 days) that happens less than once in a thousand windows.

On a Redis Cluster the map is split into partitions (`keys.Partition`), one `ShardedKeys` map
each: a URL's digest picks its partition, and a claim of URLs of several partitions is one
script per partition, each with the ledger keys of its partition.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
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
    part: keys.Partition  # the partition of every digest of the plan


class SeenUrls:
    def __init__(
        self,
        client: Client,
        retention: float = DEFAULT_RETENTION,
        clock: Callable[[], float] = time.time,
        parts: Sequence[keys.Partition] = keys.partitions(1),
    ) -> None:
        self.r = client
        self.ttl = int(retention) + 1
        self._clock = clock
        self.parts = tuple(parts)
        self.indexes = [ShardedKeys(client, part.seen_epochs, part.seen_shard) for part in self.parts]
        self.index = self.indexes[0]  # a single Redis's one map (tests and benchmarks read its layout)
        self._claim = client.register_script(_CLAIM)

    def now(self) -> float:
        return self._clock()

    def by_part(self, digests: Sequence[str]) -> dict[int, list[int]]:
        """The positions of the digests, grouped by partition (in their order)."""
        out: dict[int, list[int]] = {}
        for i, digest in enumerate(digests):
            out.setdefault(keys.partition_of_digest(digest, len(self.parts)), []).append(i)
        return out

    def check_placed(self, part: int, work_id: str) -> None:
        """A claim records work in its URL's partition: the item's id must name that partition."""
        if keys.partition_of_work(work_id, len(self.parts)) != part:
            raise ValueError(f"work item {work_id} is not placed by the URL it claims (WorkItem.make(place=url))")

    def plan(self, digests: list[str], part: int = 0) -> ClaimPlan:
        """Open the current epoch of partition `part` (the next one if this one is full) and
        place the digests (all of that partition: see `by_part`)."""
        index = self.indexes[part]
        epochs = index.open(self._clock(), 0, self.ttl)
        shards: list[str] = []
        fields: list[bytes] = []
        for digest in digests:
            key = int(digest[:16], 16)
            for epoch in epochs:
                shard, field = index.place(epoch, key)
                shards.append(shard)
            fields.append(field)
        return ClaimPlan(shards, fields, epochs[0].number, len(epochs), self.parts[part])

    def claim_digests(self, digests: list[str]) -> list[bool]:
        """For each URL digest, True when this caller claimed it (no one had seen it)."""
        out = [False] * len(digests)
        for part, positions in self.by_part(digests).items():
            plan = self.plan([digests[i] for i in positions], part)
            args: list[int | str | bytes] = [self.ttl, repr(self._clock()), plan.epoch, plan.per_digest, *plan.fields]
            claimed = self._claim(keys=[plan.part.seen_epochs, *plan.shards], args=args)
            for i, x in zip(positions, claimed, strict=True):
                out[i] = bool(x)
        return out

    def claim(self, canonical_url: str) -> bool:
        """True for the first caller to claim this URL; False if it was seen before."""
        return self.claim_digests([url_digest(canonical_url)])[0]

    def count(self) -> int:
        """URLs claimed within the window."""
        return sum(index.count(self._clock(), self.ttl) for index in self.indexes)
