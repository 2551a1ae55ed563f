"""The near-duplicate index's Redis side, laid out to cost a few hundred bytes per article.

The similarity logic is in `pipeline.dedup`; this store keeps what every worker must share,
in two structures sized so Redis keeps them in its compact encodings:

- **Records.** Each registered document gets a slot number (one `INCR`). Its record (its id,
  its cluster's id and a short signature) is written at a fixed offset of a string that holds
  `BLOCK` records (`SETRANGE`/`GETRANGE`), so a record costs its own bytes and nothing more.
  Slot numbers also order documents by registration: the earliest of a cluster is its root.
- **The index** maps 64-bit keys (one per LSH band, and one for the document's id) to slots,
  in small hashes that Redis keeps compact however many articles there are (`shards.py`). A
  false match there only costs a record read: the record says whose it is.

Every key is touched by one command or script at a time, so this runs on a Redis Cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client, run_script, text
from pipeline.state.shards import Epoch, ShardedKeys

BLOCK = 1024  # records per string
ID_BYTES = 17  # a tag byte, then 16 bytes: the raw form of a 32-hex id, or a short id as UTF-8
SIG_BYTES = 128  # one byte of each MinHash value
RECORD = 2 * ID_BYTES + SIG_BYTES  # document id, cluster id, signature
HEX_TAG = 0xFF
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
        self.index = ShardedKeys(
            client, keys.neardup_epochs(version), lambda epoch, shard: keys.neardup_shard(version, epoch, shard)
        )
        self._add = client.register_script(_ADD)
        self._write = client.register_script(_WRITE)

    # -- the index ---------------------------------------------------------------------------------
    def lookup(self, hashed: list[int], now: float, ttl: int) -> list[set[int]]:
        """For each key, the slots filed under it in any live epoch."""
        pipe = self.r.pipeline(transaction=False)
        return self._read(pipe, 0, hashed, self.index.live(now, ttl))

    def file(self, slot: int, hashed: list[int], now: float, ttl: int, then_look: list[int]) -> list[set[int]]:
        """File a slot under each key of `hashed` in the current epoch, then (in the same round
        trip, so after the writes) read the slots under each key of `then_look`."""
        epochs = self.index.open(now, len(hashed), ttl)
        pipe = self.r.pipeline(transaction=False)
        for key in hashed:
            shard, field = self.index.place(epochs[0], key)
            run_script(pipe, self._add, [shard], [field, slot, ttl])
        return self._read(pipe, len(hashed), then_look, epochs)

    def _read(self, pipe: Any, skip: int, hashed: list[int], epochs: list[Epoch]) -> list[set[int]]:
        for key in hashed:
            for epoch in epochs:
                pipe.hget(*self.index.place(epoch, key))
        raw: list[Any] = pipe.execute()[skip:]
        per = len(epochs)
        return [
            {int(s) for v in raw[i * per : (i + 1) * per] if v for s in text(v).split(",")} for i in range(len(hashed))
        ]

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
