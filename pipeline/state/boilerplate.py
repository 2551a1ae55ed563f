"""Blocks a site prints on many pages, learned across pages and shared through Redis.

Per site, Redis keeps how many distinct pages printed each block fingerprint, over a
sliding window and for at most `max_blocks` fingerprints (least recently seen evicted), so
memory stays bounded however long the service runs. One Lua script records a page and
answers in the same atomic step, so no two workers disagree on when a block crossed the
threshold. When a block crosses it, the recent pages that printed it are returned, so the
caller can clean them again from their stored raw pages: the outcome does not depend on
which page was seen first. A site's keys share its hash tag; the scripts declare them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.state import keys
from pipeline.state.client import Client, text

# KEYS: counts hash, lru zset, recent-pages list, pages hash (page id -> its fingerprints).
# ARGV: page id, now, window seconds, threshold, max blocks, max recent pages, fp...
# Returns {known boilerplate fps..., "|", crossed fps...}.
_OBSERVE = """
local counts, lru, recent, pages = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local page, now, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local k, maxb, maxr = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local first_time = redis.call('HEXISTS', pages, page) == 0
local known, crossed = {}, {}
for i = 7, #ARGV do
  local fp = ARGV[i]
  local n
  if first_time then
    n = redis.call('HINCRBY', counts, fp, 1)
    if n == k then table.insert(crossed, fp) end
  else
    n = tonumber(redis.call('HGET', counts, fp) or '0')
  end
  redis.call('ZADD', lru, now, fp)
  if n >= k then table.insert(known, fp) end
end
if first_time and #ARGV >= 7 then
  redis.call('HSET', pages, page, table.concat(ARGV, ' ', 7))
  redis.call('EXPIRE', pages, math.ceil(window))
  redis.call('LPUSH', recent, page)
  local old = redis.call('LRANGE', recent, maxr, -1)
  for _, p in ipairs(old) do redis.call('HDEL', pages, p) end
  redis.call('LTRIM', recent, 0, maxr - 1)
  redis.call('EXPIRE', recent, math.ceil(window))
end
-- Sliding window and memory bound: forget fingerprints not seen lately, then the oldest.
local stale = redis.call('ZRANGEBYSCORE', lru, '-inf', now - window, 'LIMIT', 0, 500)
local over = redis.call('ZCARD', lru) - maxb
if over > 0 then
  for _, fp in ipairs(redis.call('ZRANGE', lru, 0, over - 1)) do table.insert(stale, fp) end
end
for _, fp in ipairs(stale) do
  redis.call('ZREM', lru, fp)
  redis.call('HDEL', counts, fp)
end
redis.call('EXPIRE', counts, math.ceil(window))
redis.call('EXPIRE', lru, math.ceil(window))
local out = known
table.insert(out, '|')
for _, fp in ipairs(crossed) do table.insert(out, fp) end
return out
"""

# KEYS: recent-pages list, pages hash. ARGV: fingerprint. The recent pages that printed it.
_PAGES_WITH = """
local out = {}
local needle = ' ' .. ARGV[1] .. ' '
for _, page in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local fps = redis.call('HGET', KEYS[2], page)
  if fps and string.find(' ' .. fps .. ' ', needle, 1, true) then table.insert(out, page) end
end
return out
"""


@dataclass
class Observation:
    boilerplate: set[str]  # fingerprints the site prints on at least K pages
    crossed: set[str]  # fingerprints that reached K with this very page


class BoilerplateStats:
    """Per-site counts of block fingerprints over distinct pages, in Redis."""

    def __init__(
        self,
        client: Client,
        min_pages: int = 3,
        window_days: float = 14.0,
        max_blocks: int = 20000,
        max_recent_pages: int = 500,
    ) -> None:
        self.r = client
        self.k = min_pages
        self.window = window_days * 86400
        self.max_blocks = max_blocks
        self.max_recent = max_recent_pages
        self._observe = client.register_script(_OBSERVE)
        self._pages_with = client.register_script(_PAGES_WITH)

    @staticmethod
    def _keys(site: str) -> list[str]:
        return [keys.boilerplate(site, what) for what in ("counts", "lru", "recent", "pages")]

    def observe(self, site: str, page_id: str, fingerprints: list[str], now: float) -> Observation:
        """Record the page's blocks (once per page) and say which are boilerplate."""
        fps = [fp for fp in dict.fromkeys(fingerprints) if fp and " " not in fp]
        args: list[str | int] = [page_id, repr(now), repr(self.window), self.k, self.max_blocks, self.max_recent, *fps]
        raw = [text(x) for x in self._observe(keys=self._keys(site), args=args)]
        cut = raw.index("|")
        return Observation(set(raw[:cut]), set(raw[cut + 1 :]))

    def known(self, site: str, fingerprints: list[str]) -> set[str]:
        """Which of these fingerprints the site prints on at least K pages (nothing recorded)."""
        fps = list(dict.fromkeys(fingerprints))
        if not fps:
            return set()
        counts = self.r.hmget(keys.boilerplate(site, "counts"), fps)
        return {fp for fp, n in zip(fps, counts, strict=True) if n is not None and int(n) >= self.k}

    def pages_with(self, site: str, fingerprint: str) -> list[str]:
        """Recent pages of the site that printed this block."""
        site_keys = [keys.boilerplate(site, "recent"), keys.boilerplate(site, "pages")]
        raw = self._pages_with(keys=site_keys, args=[fingerprint])
        return [text(x) for x in raw]

    def count(self, site: str, fingerprint: str) -> int:
        return int(self.r.hget(keys.boilerplate(site, "counts"), fingerprint) or 0)

    def sizes(self, site: str) -> tuple[int, int]:
        """(fingerprints counted, fingerprints in the LRU) for one site: the memory bound."""
        return int(self.r.hlen(keys.boilerplate(site, "counts"))), int(self.r.zcard(keys.boilerplate(site, "lru")))
