"""A large set or map of 64-bit keys, kept in Redis's compact encoding whatever its size.

A Redis hash of up to 128 short entries is stored as one packed list (listpack, ziplist
before Redis 7) at about a dozen bytes an entry; past that it becomes a hashtable at about
70. So a big map is spread over many small hashes (shards). How many depends on the
traffic, which nobody configures, so entries go to the current *epoch*, whose shard count
is fixed when it opens: when an epoch is full, the next one opens with more shards if the
last filled in less than `FILL_SECONDS` (up to 16 times more), fewer if it took far longer.
Lookups read every live epoch; an epoch dies `ttl` after its last write, and each shard
carries the TTL of its own last write, so an entry lives at least `ttl`.

The epoch table is one hash. A shard is addressed by the low bits of a key and the entry by
five bytes of its high bits: two keys that share both are taken for one, which at 2**-40 a
pair only matters where a caller cannot check (see the callers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.state.client import Client, text

PER_SHARD = 48  # entries a shard is sized for: far enough under 128 for a skewed draw
FIRST_SHARDS = 16
MAX_SHARDS = 1 << 20
FILL_SECONDS = 7 * 86400  # an epoch should take about this long to fill
COMPACT = {"listpack", "ziplist"}  # a small hash's encoding since Redis 7, and before it

# KEYS: the epoch table. ARGV: now, entries to add, ttl.
# Opens the first epoch, or the next when the current is full or idle for a ttl; counts the
# entries; forgets dead epochs. Returns {current epoch, its shards, then epoch, shards... of
# the live ones, newest first}.
_OPEN = f"""
local t, now, add, ttl = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = tonumber(redis.call('HGET', t, 'cur') or '-1')
local shards = {FIRST_SHARDS}
if cur >= 0 then
  shards = tonumber(redis.call('HGET', t, cur .. ':s'))
  local n = tonumber(redis.call('HGET', t, cur .. ':n'))
  local written = tonumber(redis.call('HGET', t, cur .. ':w') or ARGV[1])
  if written < now - ttl then
    -- Idle for a whole ttl: its keys are gone; start small again.
    cur, shards = cur + 1, {FIRST_SHARDS}
    redis.call('HSET', t, 'cur', cur, cur .. ':s', shards, cur .. ':t', now, cur .. ':n', 0)
  elseif n + add > shards * {PER_SHARD} then
    local took = math.max(1, now - tonumber(redis.call('HGET', t, cur .. ':t')))
    local steps = math.floor(math.log({FILL_SECONDS} / took) / math.log(2))
    steps = math.max(-1, math.min(4, steps))
    shards = math.max({FIRST_SHARDS}, math.min({MAX_SHARDS}, math.floor(shards * 2 ^ steps)))
    cur = cur + 1
    redis.call('HSET', t, 'cur', cur, cur .. ':s', shards, cur .. ':t', now, cur .. ':n', 0)
  end
else
  cur = 0
  redis.call('HSET', t, 'cur', 0, '0:s', shards, '0:t', now, '0:n', 0)
end
if add > 0 then
  redis.call('HINCRBY', t, cur .. ':n', add)
  redis.call('HSET', t, cur .. ':w', now)
end
local out = {{cur, shards}}
for e = cur - 1, 0, -1 do
  local w = redis.call('HGET', t, e .. ':w')
  if not w then break end
  if tonumber(w) < now - ttl then
    redis.call('HDEL', t, e .. ':s', e .. ':t', e .. ':n', e .. ':w')
  else
    table.insert(out, e)
    table.insert(out, tonumber(redis.call('HGET', t, e .. ':s')))
  end
end
return out
"""


@dataclass(frozen=True)
class Epoch:
    number: int
    shards: int  # a power of two


class ShardedKeys:
    """Where each 64-bit key of one big map lives: epochs, shards and fields.

    `shard_key(epoch, shard)` names a shard; the caller reads and writes the shards itself
    (in a pipeline, or inside its own script when the shards share its hash tag)."""

    def __init__(self, client: Client, table: str, shard_key: Callable[[int | str, int | str], str]) -> None:
        self.r = client
        self.table = table
        self.shard_key = shard_key
        self._open = client.register_script(_OPEN)

    def open(self, now: float, entries: int, ttl: int) -> list[Epoch]:
        """Count `entries` about to be written into the current epoch (opening the next one when
        this one is full) and return the live epochs, the current one first. A caller that
        writes from its own script passes 0 and counts there (see `seen.py`)."""
        raw = [int(x) for x in self._open(keys=[self.table], args=[repr(now), entries, ttl])]
        return [Epoch(raw[i], raw[i + 1]) for i in range(0, len(raw), 2)]

    def live(self, now: float, ttl: int) -> list[Epoch]:
        """The live epochs (written to within a ttl), newest first, read without opening or
        counting anything."""
        table = {text(k): text(v) for k, v in self.r.hgetall(self.table).items()}
        out: list[Epoch] = []
        if "cur" in table:
            for e in range(int(table["cur"]), -1, -1):
                written = table.get(f"{e}:w")
                if written is not None and float(written) >= now - ttl:
                    out.append(Epoch(e, int(table[f"{e}:s"])))
                elif e < int(table["cur"]):
                    break
        return out

    def place(self, epoch: Epoch, key: int) -> tuple[str, bytes]:
        """The shard and field of a key in an epoch: low bits pick the shard, five bytes of the
        high bits are the field."""
        return self.shard_key(epoch.number, key & (epoch.shards - 1)), (key >> 24).to_bytes(5, "big")

    def count(self, now: float, ttl: int) -> int:
        """Entries written to the live epochs (each counted when written)."""
        live = {e.number for e in self.live(now, ttl)}
        counts = self.r.hmget(self.table, [f"{e}:n" for e in sorted(live)]) if live else []
        return sum(int(n or 0) for n in counts)

    def layout(self) -> dict[str, int]:
        """How the map sits in Redis: its shards, their largest entry count, how many left the
        compact encoding, and the shortest and longest TTL (for benchmarks and tests)."""
        sizes, loose, ttls = [], 0, []
        for key in self.r.scan_iter(match=self.shard_key("*", "*"), count=1000):
            sizes.append(int(self.r.hlen(key)))
            loose += text(self.r.object("encoding", key)) not in COMPACT
            ttls.append(int(self.r.ttl(key)))
        return {
            "shards": len(sizes),
            "largest": max(sizes, default=0),
            "not_compact": loose,
            "ttl_min": min(ttls, default=0),
            "ttl_max": max(ttls, default=0),
        }
