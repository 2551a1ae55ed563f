"""Blocks a site prints on many pages, learned across pages and shared through Redis.

Per site, Redis keeps how many distinct pages printed each block fingerprint, over a
sliding window and for at most `max_blocks` fingerprints (least recently seen evicted), so
memory stays bounded however long the service runs. One Lua script records a page and
answers in the same atomic step, so no two workers disagree on when a block crossed the
threshold. When a block crosses it, the recent pages that printed it are returned, so the
caller can clean them again from their stored raw pages: the outcome does not depend on
which page was seen first.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from pipeline.state import text

# KEYS: counts hash, lru zset, recent-pages list, this page's fingerprint set
# ARGV: page id, now, window seconds, threshold, max blocks, max recent pages, fp...
# Returns {known boilerplate fps..., "|", crossed fps...}.
_OBSERVE = """
local counts, lru, recent, pagefps = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local page, now, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local k, maxb, maxr = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local prefix = string.sub(pagefps, 1, string.len(pagefps) - string.len(page))
local first_time = redis.call('EXISTS', pagefps) == 0
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
  redis.call('SADD', pagefps, unpack(ARGV, 7))
  redis.call('EXPIRE', pagefps, math.ceil(window))
  redis.call('LPUSH', recent, page)
  local old = redis.call('LRANGE', recent, maxr, -1)
  for _, p in ipairs(old) do redis.call('DEL', prefix .. p) end
  redis.call('LTRIM', recent, 0, maxr - 1)
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
local out = known
table.insert(out, '|')
for _, fp in ipairs(crossed) do table.insert(out, fp) end
return out
"""

_PAGES_WITH = """
local out = {}
for _, page in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if redis.call('SISMEMBER', ARGV[1] .. page, ARGV[2]) == 1 then table.insert(out, page) end
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
        client: redis.Redis,
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

    def _keys(self, site: str, page_id: str) -> list[str]:
        base = f"nf:bp:{site}"
        return [f"{base}:counts", f"{base}:lru", f"{base}:recent", f"{base}:page:{page_id}"]

    def observe(self, site: str, page_id: str, fingerprints: list[str], now: float) -> Observation:
        """Record the page's blocks (once per page) and say which are boilerplate."""
        fps = list(dict.fromkeys(fingerprints))
        args: list[str | int] = [page_id, repr(now), repr(self.window), self.k, self.max_blocks, self.max_recent, *fps]
        raw = [text(x) for x in self._observe(keys=self._keys(site, page_id), args=args)]
        cut = raw.index("|")
        return Observation(set(raw[:cut]), set(raw[cut + 1 :]))

    def pages_with(self, site: str, fingerprint: str) -> list[str]:
        """Recent pages of the site that printed this block."""
        prefix = f"nf:bp:{site}:page:"
        return [text(x) for x in self._pages_with(keys=[f"nf:bp:{site}:recent"], args=[prefix, fingerprint])]

    def count(self, site: str, fingerprint: str) -> int:
        return int(self.r.hget(f"nf:bp:{site}:counts", fingerprint) or 0)
