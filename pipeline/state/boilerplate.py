"""Blocks a site prints on many pages, learned across pages and shared through Redis.

Per site, Redis keeps how many distinct pages printed each block fingerprint, and the hour
it last did. A count not refreshed within the window reads as zero, so a block is
boilerplate once it recurs on `min_pages` pages with no gap longer than the window.

Memory is bounded per site, and kept in Redis's compact encodings (listpack) so an entry
costs some twenty bytes, not ninety: the counts are spread over `shards` small hashes by
fingerprint, each in two generations. A block seen moves to its shard's current
generation; when that holds `shard_size` fingerprints it becomes the previous one and the
previous one is dropped, forgetting the blocks least recently seen (an LRU in steps, with
no sorted set). Fingerprints are stored as 8 raw bytes. A site's last `recent_pages` pages
are kept in two aligned lists (page ids; the heads of their fingerprints, packed), which
tell a page already counted from a new one and which pages printed a block.

One Lua script records a page and answers in the same atomic step, so no two workers
disagree on when a block crossed the threshold. When a block crosses it, the recent pages
that printed it can be asked for (`pages_with`) and cleaned again from their stored raw
pages: the outcome does not depend on which page was seen first. A site's keys share its
hash tag; the scripts declare them all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pipeline.state import keys
from pipeline.state.client import Client, text
from pipeline.state.packing import pack_fingerprint, pack_id, unpack_id

DEFAULT_SHARDS = 16
DEFAULT_SHARD_SIZE = 120  # under Redis's default hash-max-listpack-entries (128)
DEFAULT_RECENT_PAGES = 200
# A recent page keeps only the first bytes of its fingerprints: enough to find the pages that
# printed a block (a false match, about one in 10^8 pages, only cleans a page again for nothing).
HEAD_BYTES = 4

# KEYS: the recent page ids (list), their packed fingerprints (list, aligned), then for each
# shard its current and previous generation (hashes: fingerprint -> hour * 256 + count).
_SHARED = """
local function shard_of(fp)
  local i = string.byte(fp, 1) % ((#KEYS - 2) / 2)
  return KEYS[3 + 2 * i], KEYS[4 + 2 * i]
end
local function lookup(fp)
  local cur, prev = shard_of(fp)
  local v = redis.call('HGET', cur, fp)
  if v then return v, false end
  return redis.call('HGET', prev, fp), true
end
-- The count kept with the hour it was last seen; zero once that is older than the window.
local function count_of(v, hour, window)
  if not v then return 0 end
  v = tonumber(v)
  if hour - math.floor(v / 256) > window then return 0 end
  return v % 256
end
"""

# ARGV: page id, hour, window hours, ttl seconds, threshold, shard size, recent pages, fp...
# Returns {known boilerplate fps, crossed fps}.
_OBSERVE = (
    _SHARED
    + f"local HEAD = {HEAD_BYTES}\n"
    + """
local ids, packed = KEYS[1], KEYS[2]
local page, hour, window, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local k, size, maxr = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local first_time = not redis.call('LPOS', ids, page)
local known, crossed, touched = {}, {}, {}
for i = 8, #ARGV do
  local fp = ARGV[i]
  local v, from_prev = lookup(fp)
  local n = count_of(v, hour, window)
  if first_time then
    n = math.min(n + 1, 255)
    if n == k then table.insert(crossed, fp) end
  end
  if n >= k then table.insert(known, fp) end
  if n > 0 then
    local cur, prev = shard_of(fp)
    if v and from_prev then redis.call('HDEL', prev, fp) end
    -- A new entry for a full generation: it becomes the previous one, the oldest is dropped.
    if (from_prev or not v) and redis.call('HLEN', cur) >= size then redis.call('RENAME', cur, prev) end
    redis.call('HSET', cur, fp, hour * 256 + n)
    touched[cur] = true
  end
end
if first_time and #ARGV >= 8 then
  local heads = {}
  for i = 8, #ARGV do heads[i - 7] = string.sub(ARGV[i], 1, HEAD) end
  redis.call('LPUSH', ids, page)
  redis.call('LPUSH', packed, table.concat(heads))
  redis.call('LTRIM', ids, 0, maxr - 1)
  redis.call('LTRIM', packed, 0, maxr - 1)
end
for key in pairs(touched) do redis.call('EXPIRE', key, ttl) end
redis.call('EXPIRE', ids, ttl)
redis.call('EXPIRE', packed, ttl)
return {known, crossed}
"""
)

# ARGV: hour, window hours, fp... The count of each fingerprint (nothing recorded).
_COUNTS = (
    _SHARED
    + """
local out = {}
for i = 3, #ARGV do
  out[i - 2] = count_of(lookup(ARGV[i]), tonumber(ARGV[1]), tonumber(ARGV[2]))
end
return out
"""
)

# KEYS: recent page ids, their fingerprints' heads. ARGV: a fingerprint's head. The recent
# pages that printed it.
_PAGES_WITH = f"""
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local out = {{}}
for i, packed in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local at = string.find(packed, ARGV[1], 1, true)
  while at and (at - 1) % {HEAD_BYTES} ~= 0 do at = string.find(packed, ARGV[1], at + 1, true) end
  if at and ids[i] then table.insert(out, ids[i]) end
end
return out
"""


@dataclass
class Observation:
    boilerplate: set[str]  # fingerprints the site prints on at least K pages
    crossed: set[str]  # fingerprints that reached K with this very page


@dataclass
class KeySize:
    """One of a site's keys as Redis holds it: entries, and encoding (`listpack` is compact)."""

    key: str
    entries: int
    encoding: str


class BoilerplateStats:
    """Per-site counts of block fingerprints over distinct pages, in Redis (see the module)."""

    def __init__(
        self,
        client: Client,
        min_pages: int = 2,
        window_days: float = 14.0,
        shards: int = DEFAULT_SHARDS,
        shard_size: int = DEFAULT_SHARD_SIZE,
        recent_pages: int = DEFAULT_RECENT_PAGES,
    ) -> None:
        if not 1 <= min_pages <= 255:
            raise ValueError(f"boilerplate min_pages must be 1..255, not {min_pages}")
        if not 1 <= shards <= 256:
            raise ValueError(f"boilerplate shards must be 1..256, not {shards}")
        self.r = client
        self.k = min_pages
        self.window = window_days * 86400
        self.shards = shards
        self.shard_size = max(1, shard_size)
        self.recent_pages = max(1, recent_pages)
        self._observe = client.register_script(_OBSERVE)
        self._counts = client.register_script(_COUNTS)
        self._pages_with = client.register_script(_PAGES_WITH)

    def _keys(self, site: str) -> list[str]:
        shard_keys = [keys.boilerplate(site, f"{gen}{i}") for i in range(self.shards) for gen in ("cur", "prev")]
        return [keys.boilerplate(site, "ids"), keys.boilerplate(site, "fps"), *shard_keys]

    def _hour_args(self, now: float) -> list[int]:
        return [int(now // 3600), max(1, round(self.window / 3600))]

    def observe(self, site: str, page_id: str, fingerprints: list[str], now: float) -> Observation:
        """Record the page's blocks (once per page) and say which are boilerplate."""
        packed = _pack_all(fingerprints)
        args: list[bytes | int] = [pack_id(page_id), *self._hour_args(now), max(1, round(self.window))]
        args += [self.k, self.shard_size, self.recent_pages, *packed]
        known, crossed = self._observe(keys=self._keys(site), args=args)
        return Observation(_unpack_all(known, packed), _unpack_all(crossed, packed))

    def counts(self, site: str, fingerprints: list[str], now: float | None = None) -> dict[str, int]:
        """How many distinct pages printed each fingerprint, within the window (nothing recorded)."""
        packed = _pack_all(fingerprints)
        if not packed:
            return {}
        hour = self._hour_args(time.time() if now is None else now)
        raw = self._counts(keys=self._keys(site), args=[*hour, *packed])
        return {fp: int(n) for raw_fp, n in zip(packed, raw, strict=True) for fp in packed[raw_fp]}

    def known(self, site: str, fingerprints: list[str], now: float | None = None) -> set[str]:
        """Which of these fingerprints the site prints on at least K pages (nothing recorded)."""
        return {fp for fp, n in self.counts(site, fingerprints, now).items() if n >= self.k}

    def count(self, site: str, fingerprint: str, now: float | None = None) -> int:
        return self.counts(site, [fingerprint], now).get(fingerprint, 0)

    def pages_with(self, site: str, fingerprint: str) -> list[str]:
        """Recent pages of the site that printed this block."""
        site_keys = [keys.boilerplate(site, "ids"), keys.boilerplate(site, "fps")]
        raw = self._pages_with(keys=site_keys, args=[pack_fingerprint(fingerprint)[:HEAD_BYTES]])
        return [unpack_id(x) for x in raw]

    def sizes(self, site: str) -> list[KeySize]:
        """Each of the site's keys that exists, its entries and encoding: the memory bound."""
        site_keys = self._keys(site)
        pipe = self.r.pipeline(transaction=False)
        for key in site_keys:
            pipe.type(key)
            pipe.object("encoding", key)
        replies = pipe.execute(raise_on_error=False)
        out = []
        for key, kind, encoding in zip(site_keys, replies[::2], replies[1::2], strict=True):
            kind = text(kind)
            if kind == "none":
                continue
            entries = self.r.hlen(key) if kind == "hash" else self.r.llen(key)
            out.append(KeySize(key, int(entries), text(encoding)))
        return out


def _pack_all(fingerprints: list[str]) -> dict[bytes, list[str]]:
    """The page's distinct fingerprints, packed: packed -> the strings that packed to it."""
    packed: dict[bytes, list[str]] = {}
    for fp in dict.fromkeys(fingerprints):
        if fp:
            packed.setdefault(pack_fingerprint(fp), []).append(fp)
    return packed


def _unpack_all(raw: list[bytes], packed: dict[bytes, list[str]]) -> set[str]:
    return {fp for x in raw for fp in packed.get(x, [])}
