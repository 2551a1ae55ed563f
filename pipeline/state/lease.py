"""Leases: one holder at a time of a named role across every host on one Redis.

A holder keeps its lease by renewing it before `ttl` runs out; one that stops (killed, cut
off from Redis) loses it when the ttl passes, and another takes it. Taking, renewing and
giving up are each one script, so two contenders never both hold it.
"""

from __future__ import annotations

from pipeline.state.client import Client, text

# Take the lease when it is free, keep it when it is ours: 1 when held after the call.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """The lease at `key`, held for `ttl` seconds past each renewal."""

    def __init__(self, client: Client, key: str, ttl: float) -> None:
        self.r = client
        self.key = key
        self.ttl = ttl
        self._hold = client.register_script(_HOLD)
        self._release = client.register_script(_RELEASE)

    def hold(self, token: str) -> bool:
        """Take the lease for `token`, or renew it when `token` holds it; False when another does."""
        return bool(self._hold(keys=[self.key], args=[token, max(1, int(self.ttl * 1000))]))

    def release(self, token: str) -> bool:
        """Give the lease up if `token` holds it (another may take it at once)."""
        return bool(self._release(keys=[self.key], args=[token]))

    def holder(self) -> str | None:
        """Who holds the lease now, if anyone."""
        value = self.r.get(self.key)
        return text(value) if value is not None else None
