"""Seen URLs: one Redis set of URL digests per period, so memory stays bounded.

A URL is remembered for `retention` seconds at least (up to a third more), in one set per
period of a third of that; an article linked again after that long is fetched again (its
canonical URL and content hash still keep one copy in the index).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from pipeline.state import keys
from pipeline.state.client import Client

GENERATIONS = 4  # the current period and the three before it are consulted
DEFAULT_RETENTION = 180 * 86400.0

# KEYS: the seen generations, the current one first. ARGV: ttl, digests. A digest is new when
# no generation holds it; it joins the current one.
_CLAIM = """
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


def url_digest(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:20]


def guid_digest(guid: str) -> str:
    """What a feed's GUID map keeps of a GUID: GUIDs are often whole URLs, and a map holds
    every entry of a feed for the seen retention."""
    return hashlib.sha1(guid.encode("utf-8")).hexdigest()[:16]


class SeenUrls:
    def __init__(
        self, client: Client, retention: float = DEFAULT_RETENTION, clock: Callable[[], float] = time.time
    ) -> None:
        self.r = client
        self.period = max(1.0, retention / (GENERATIONS - 1))
        self._clock = clock
        self._claim = client.register_script(_CLAIM)

    def window(self, prefix: str) -> list[str]:
        """The generations of a windowed key to consult, the current one (where writes go) first."""
        current = int(self._clock() // self.period)
        return [f"{prefix}{current - age}" for age in range(GENERATIONS)]

    def keys(self) -> list[str]:
        return self.window(keys.SEEN)

    @property
    def ttl(self) -> int:
        return int(self.period * GENERATIONS) + 1

    def claim_digests(self, digests: list[str]) -> list[bool]:
        """For each URL digest, True when this caller claimed it (no one had seen it)."""
        if not digests:
            return []
        return [bool(x) for x in self._claim(keys=self.keys(), args=[self.ttl, *digests])]

    def claim(self, canonical_url: str) -> bool:
        """True for the first caller to claim this URL; False if it was seen before."""
        return self.claim_digests([url_digest(canonical_url)])[0]

    def release(self, canonical_url: str) -> None:
        """Forget a claim, so the next poll offers the URL again."""
        digest = url_digest(canonical_url)
        pipe = self.r.pipeline(transaction=True)
        for key in self.keys():
            pipe.srem(key, digest)
        pipe.execute()

    def count(self) -> int:
        pipe = self.r.pipeline(transaction=False)
        for key in self.keys():
            pipe.scard(key)
        return sum(int(n) for n in pipe.execute())

    def ttls(self) -> list[int]:
        """Seconds left of each existing generation (for tests and `status`)."""
        return [t for t in (self.r.ttl(k) for k in self.keys()) if t and t > 0]
