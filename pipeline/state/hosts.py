"""Per-host politeness state: rate slots, in-flight leases, back-offs and cached robots.txt.

Each check-and-reserve is one Lua script over one host's keys (they share the host's hash
tag), so two workers never both take the last token. Times come from the Redis server's
clock, so workers with skewed clocks still agree. The rules themselves (what to ask, how to
wait) are in `pipeline.politeness`.
"""

from __future__ import annotations

from pipeline.state import keys
from pipeline.state.client import Client, text

# KEYS: tat, blocked, inflight. ARGV: interval, burst, max_wait, cap, lease, token.
# Returns {verdict, seconds}: verdict "ok" (slot reserved; wait `seconds` then send),
# "blocked" (host in Retry-After back-off), "busy" (concurrency cap), "rate" (next slot too far).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local lease = tonumber(ARGV[5])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return {'blocked', tostring(blocked - now)} end
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= cap then
    local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    local hint = math.min(tonumber(first[2]) - now, math.max(interval, 0.05))
    return {'busy', tostring(hint)}
  end
end
local wait = 0
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  wait = tat - (burst - 1) * interval - now
  if wait < 0 then wait = 0 end
  if wait > max_wait then return {'rate', tostring(wait)} end
  local new_tat = tat + interval
  redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
end
if cap > 0 then
  redis.call('ZADD', KEYS[3], now + wait + lease, ARGV[6])
  redis.call('PEXPIRE', KEYS[3], math.ceil((wait + lease) * 1000) + 1000)
end
return {'ok', tostring(wait)}
"""

# KEYS: sent. ARGV: interval. Just before a request goes out: if the host's last request left
# less than `interval` ago (a slot holder before us ran late), return the seconds still to wait;
# else record now as the last send and return 0. Keeps real sends apart, not only reserved slots.
_CONFIRM_SEND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local interval = tonumber(ARGV[1])
local sent = tonumber(redis.call('GET', KEYS[1]) or '0')
if now - sent < interval then return tostring(interval - (now - sent)) end
redis.call('SET', KEYS[1], tostring(now), 'PX', math.ceil(interval * 1000) + 1000)
return '0'
"""

# KEYS: sent. ARGV: interval. When a request is over: count the host's last request from now, so
# the next one leaves `interval` after this one surely arrived, however late it went out.
_MARK_DONE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local sent = tonumber(redis.call('GET', KEYS[1]) or '0')
if now > sent then redis.call('SET', KEYS[1], tostring(now), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000) end
return 1
"""

# KEYS: blocked. ARGV: seconds. Extends a host's back-off, never shortens it.
_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > cur then
  redis.call('SET', KEYS[1], tostring(untl), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
  return tostring(untl)
end
return tostring(cur)
"""


class HostStore:
    def __init__(self, client: Client) -> None:
        self.r = client
        self._acquire = client.register_script(_ACQUIRE)
        self._block = client.register_script(_BLOCK)
        self._confirm = client.register_script(_CONFIRM_SEND)
        self._done = client.register_script(_MARK_DONE)

    def acquire(
        self, host: str, *, interval: float, burst: int, max_wait: float, cap: int, lease: float, token: str
    ) -> tuple[str, float]:
        """One attempt to take a request slot: (verdict, seconds); see `_ACQUIRE`."""
        verdict, seconds = self._acquire(
            keys=[keys.host(host, "tat"), keys.host(host, "blocked"), keys.host(host, "inflight")],
            args=[repr(float(interval)), max(1, burst), repr(float(max_wait)), max(0, cap), repr(float(lease)), token],
        )
        return text(verdict), max(0.0, float(seconds))

    def release(self, host: str, token: str) -> None:
        """Give back an in-flight lease."""
        self.r.zrem(keys.host(host, "inflight"), token)

    def confirm_send(self, host: str, interval: float) -> float:
        """Seconds still to wait before sending (0: go, and the send is recorded)."""
        return float(self._confirm(keys=[keys.host(host, "sent")], args=[repr(float(interval))]))

    def mark_done(self, host: str, interval: float) -> None:
        self._done(keys=[keys.host(host, "sent")], args=[repr(float(interval))])

    def block(self, host: str, seconds: float) -> float:
        """Extend the host's back-off to `seconds` from now (never shorten it); the unix time it ends."""
        return float(self._block(keys=[keys.host(host, "blocked")], args=[repr(float(seconds))]))

    def blocked_for(self, host: str) -> float:
        """Seconds left of the host's back-off (0 when none), by the Redis server's clock."""
        raw = self.r.get(keys.host(host, "blocked"))
        if not raw:
            return 0.0
        return max(0.0, float(raw) - self.now())

    def now(self) -> float:
        """The Redis server's clock, which every worker's politeness agrees on."""
        sec, usec = self.r.time()
        return sec + usec / 1e6

    def robots(self, host: str) -> bytes | None:
        raw = self.r.get(keys.host(host, "robots"))
        return raw if raw is None or isinstance(raw, bytes) else str(raw).encode()

    def robots_ttl(self, host: str) -> float | None:
        """Seconds the cached robots.txt is still trusted (None when unknown)."""
        ms = self.r.pttl(keys.host(host, "robots"))
        return ms / 1000 if ms and ms > 0 else None

    def set_robots(self, host: str, body: bytes, ttl: float) -> None:
        self.r.set(keys.host(host, "robots"), body, px=max(1, int(ttl * 1000)))
