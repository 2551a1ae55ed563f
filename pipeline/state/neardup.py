"""The near-duplicate index's Redis side, laid out to cost a few hundred bytes per article.

The similarity logic is in `pipeline.dedup`; this store keeps what every worker must share,
in two structures sized so Redis keeps them in its compact encodings:

- **Records.** Each registered document gets a slot number (one `INCR`). Its record (its id,
  its cluster's id and a short signature) is written at a fixed offset of a string that holds
  `BLOCK` records (`SETRANGE`/`GETRANGE`), so a record costs its own bytes and nothing more.
  Slot numbers also order documents by registration: the earliest of a cluster is its root.
- **The index** maps 64-bit keys (one per LSH band, and one for the document's id) to slots.
  It is spread over small hashes, each kept well under Redis's listpack limit (128 entries),
  where an entry costs about 13 bytes instead of the ~70 of a hashtable entry. How many
  hashes are needed grows with the traffic, which nobody configures: entries go to the
  current *epoch*, whose shard count is fixed when it opens; when an epoch is full the next
  one opens with more shards if the last filled quickly (fewer if slowly). Lookups read every
  live epoch; an epoch dies `ttl` after its last write, as do record blocks.

Every key but the epoch table is touched one command at a time, so this runs on a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client, text

BLOCK = 1024  # records per string
ID_BYTES = 17  # a tag byte, then 16 bytes: the raw form of a 32-hex id, or a short id as UTF-8
SIG_BYTES = 128  # one byte of each MinHash value
RECORD = 2 * ID_BYTES + SIG_BYTES  # document id, cluster id, signature
HEX_TAG = 0xFF
PER_SHARD = 48  # entries a shard is sized for: far enough under 128 for a skewed draw
FIRST_SHARDS = 16
MAX_SHARDS = 1 << 20
FILL_SECONDS = 7 * 86400  # an epoch should take about this long to fill
COMPACT = {"listpack", "ziplist"}  # a small hash's encoding since Redis 7, and before it
MAX_SLOTS_PER_ENTRY = 8  # a band value shared by more documents keeps only the newest


def encode_id(doc_id: str) -> bytes:
    """A document id in ID_BYTES: 32-hex ids (all of newsflow's) packed, short ids verbatim."""
    if len(doc_id) == 32:
        try:
            return bytes([HEX_TAG]) + bytes.fromhex(doc_id)
        except ValueError:
            pass
    raw = doc_id.encode("utf-8")
    if not raw or len(raw) > ID_BYTES - 1:
        raise ValueError(f"near-duplicate ids are 32 hex digits or 1-16 bytes of text, not {doc_id!r}")
    return bytes([len(raw)]) + raw.ljust(ID_BYTES - 1, b"\0")


def decode_id(raw: bytes) -> str | None:
    """The id `encode_id` wrote; None for an empty (never written or expired) place."""
    if len(raw) < ID_BYTES or raw[0] == 0:
        return None
    if raw[0] == HEX_TAG:
        return raw[1:ID_BYTES].hex()
    return raw[1 : 1 + raw[0]].decode("utf-8", "replace")


@dataclass(frozen=True)
class Record:
    slot: int
    doc_id: str
    cluster_id: str | None
    signature: bytes


# KEYS: the epoch table. ARGV: now, entries to add, ttl.
# Opens the first epoch, or the next when the current is full; counts the entries; forgets
# epochs dead for a ttl. Returns {current epoch, its shards, then epoch, shards... of the live}.
_CLAIM = f"""
local t, now, add, ttl = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = tonumber(redis.call('HGET', t, 'cur') or '-1')
local shards
if cur < 0 then
  cur, shards = 0, {FIRST_SHARDS}
  redis.call('HSET', t, 'cur', 0, '0:s', shards, '0:t', now, '0:n', 0)
else
  shards = tonumber(redis.call('HGET', t, cur .. ':s'))
  local n = tonumber(redis.call('HGET', t, cur .. ':n'))
  if tonumber(redis.call('HGET', t, cur .. ':w')) < now - ttl then
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
end
redis.call('HINCRBY', t, cur .. ':n', add)
redis.call('HSET', t, cur .. ':w', now)
local out = {{cur, shards}}
for e = cur, 0, -1 do
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

# KEYS: a shard. ARGV: field, slot, ttl. Adds the slot to the field's list (newest last).
_ADD = f"""
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then
  v = ARGV[2]
else
  local slots = {{}}
  for s in string.gmatch(v, '[^,]+') do
    if s ~= ARGV[2] then table.insert(slots, s) end
  end
  table.insert(slots, ARGV[2])
  while #slots > {MAX_SLOTS_PER_ENTRY} do table.remove(slots, 1) end
  v = table.concat(slots, ',')
end
redis.call('HSET', KEYS[1], ARGV[1], v)
redis.call('EXPIRE', KEYS[1], ARGV[3])
"""

# KEYS: a record block. ARGV: offset, bytes, ttl, block size. Sizes the block once, exactly
# (a string grown piece by piece would keep up to twice its length allocated).
_WRITE = """
if redis.call('STRLEN', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('SETRANGE', KEYS[1], tonumber(ARGV[4]) - 1, '\\0')
end
redis.call('SETRANGE', KEYS[1], tonumber(ARGV[1]), ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
"""


class NearDupStore:
    def __init__(self, client: Client, version: str) -> None:
        self.r = client
        self.version = version
        self._claim = client.register_script(_CLAIM)
        self._add = client.register_script(_ADD)
        self._write = client.register_script(_WRITE)

    # -- the index ---------------------------------------------------------------------------------
    def _epochs(self, now: float, ttl: int) -> list[tuple[int, int]]:
        """(epoch, shards) of every live epoch, newest first, without opening one."""
        table = {text(k): text(v) for k, v in self.r.hgetall(keys.neardup_epochs(self.version)).items()}
        if "cur" not in table:
            return []
        live = []
        for e in range(int(table["cur"]), -1, -1):
            w = table.get(f"{e}:w")
            if w is None:
                break
            if float(w) >= now - ttl:
                live.append((e, int(table[f"{e}:s"])))
        return live

    def _place(self, epoch: int, shards: int, key: int) -> tuple[str, bytes]:
        """The shard and field of a 64-bit key in an epoch: low bits pick the shard, and five
        bytes of the high bits are the field (a false match only costs a record read)."""
        return keys.neardup_shard(self.version, epoch, key & (shards - 1)), (key >> 24).to_bytes(5, "big")

    def lookup(self, hashed: list[int], now: float, ttl: int) -> list[set[int]]:
        """For each key, the slots filed under it in any live epoch."""
        epochs = self._epochs(now, ttl)
        pipe = self.r.pipeline(transaction=False)
        for key in hashed:
            for epoch, shards in epochs:
                pipe.hget(*self._place(epoch, shards, key))
        raw: list[Any] = pipe.execute()
        found: list[set[int]] = []
        per = len(epochs)
        for i in range(len(hashed)):
            slots = {int(s) for v in raw[i * per : (i + 1) * per] if v for s in text(v).split(",")}
            found.append(slots)
        return found

    def file(self, slot: int, hashed: list[int], now: float, ttl: int) -> None:
        """File a slot under each key, in the current epoch."""
        cur, shards, *_live = [
            int(x) for x in self._claim(keys=[keys.neardup_epochs(self.version)], args=[now, len(hashed), ttl])
        ]
        pipe = self.r.pipeline(transaction=False)
        for key in hashed:
            shard, field = self._place(cur, shards, key)
            self._add(keys=[shard], args=[field, slot, ttl], client=pipe)
        pipe.execute()

    # -- records -----------------------------------------------------------------------------------
    def new_slot(self) -> int:
        return int(self.r.incr(keys.neardup_next(self.version)))

    def _where(self, slot: int) -> tuple[str, int]:
        return keys.neardup_records(self.version, slot // BLOCK), (slot % BLOCK) * RECORD

    def write(self, slot: int, doc_id: str, cluster_id: str, signature: bytes, ttl: int) -> None:
        if len(signature) != SIG_BYTES:
            raise ValueError(f"a near-duplicate signature has {SIG_BYTES} bytes, not {len(signature)}")
        key, offset = self._where(slot)
        data = encode_id(doc_id) + encode_id(cluster_id) + signature
        self._write(keys=[key], args=[offset, data, ttl, BLOCK * RECORD])

    def set_signature(self, slot: int, signature: bytes, ttl: int) -> None:
        key, offset = self._where(slot)
        self._write(keys=[key], args=[offset + 2 * ID_BYTES, signature, ttl, BLOCK * RECORD])

    def set_cluster(self, slot: int, cluster_id: str, ttl: int) -> None:
        key, offset = self._where(slot)
        self._write(keys=[key], args=[offset + ID_BYTES, encode_id(cluster_id), ttl, BLOCK * RECORD])

    def records(self, slots: list[int]) -> list[Record | None]:
        """The records of these slots, None where never written or expired."""
        pipe = self.r.pipeline(transaction=False)
        for slot in slots:
            key, offset = self._where(slot)
            pipe.getrange(key, offset, offset + RECORD - 1)
        out: list[Record | None] = []
        for slot, raw in zip(slots, pipe.execute(), strict=True):
            doc_id = decode_id(raw[:ID_BYTES]) if raw else None
            if doc_id is None or len(raw) < RECORD:
                out.append(None)
                continue
            cluster = decode_id(raw[ID_BYTES : 2 * ID_BYTES])
            out.append(Record(slot, doc_id, cluster, bytes(raw[2 * ID_BYTES : RECORD])))
        return out

    def epochs(self, now: float, ttl: int) -> list[tuple[int, int]]:
        """(epoch, shards) of the live epochs, newest first."""
        return self._epochs(now, ttl)

    def layout(self) -> dict[str, int]:
        """How the index sits in Redis: its shards, their largest entry count, how many left
        the compact encoding, and the shortest and longest TTL (for benchmarks and tests)."""
        sizes, loose, ttls = [], 0, []
        for key in self.r.scan_iter(match=keys.neardup_shard(self.version, "*", "*"), count=1000):
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
