"""Politeness shared by every worker: one host is never hammered, whoever asks.

All of it lives in Redis, so a hundred workers behave like one careful client:

- a rate limit per host (a token bucket, kept as GCRA: one "theoretical arrival time" per host),
  slowed further by the host's robots.txt `Crawl-delay`;
- a cap on concurrent requests per host (leases that expire if a worker dies mid-request);
- a back-off per host after `429` / `503` (`Retry-After` honoured, bounded by the operator);
- robots.txt fetched once per host, cached, and obeyed (RFC 9309: longest match wins).

Each check-and-reserve is one Lua script, so two workers never both take the last token.
Times come from the Redis server's clock, so workers with skewed clocks still agree.
A caller that would have to wait long gets `HostBusy` and should come back later
(a Celery task retries with a countdown) instead of holding a worker asleep.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
from protego import Protego

from pipeline.errors import (
    DeadlineExceeded,
    HostBusy,
    HTTPStatusError,
    RobotsDisallowed,
    ServerBusy,
    TooLarge,
    TransientError,
)
from pipeline.fetching import Fetcher, FetchResult
from pipeline.state import PREFIX, text

ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB

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


def host_key(url: str) -> str:
    """The politeness key of a URL: scheme, host and port, as robots.txt is scoped (RFC 9309)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets, so the key still reads as a URL
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{host}:{port}"


# -- robots.txt ---------------------------------------------------------------------------------
class RobotsRules:
    """What one host's robots.txt says to one product token: `allowed(url)` and `crawl_delay`.

    Matching (longest rule wins, Allow wins ties, `*` and `$`, percent-encoding) is protego's.
    """

    def __init__(self, parser: Protego | None, agent: str) -> None:
        self._parser = parser
        self._agent = agent
        self.crawl_delay: float | None = parser.crawl_delay(agent) if parser is not None else None

    def allowed(self, url: str) -> bool:
        """True when the URL may be fetched (no robots.txt, or no rule against it)."""
        return self._parser is None or self._parser.can_fetch(url, self._agent)


ALLOW_ALL = RobotsRules(None, "*")

# A robots.txt product token: letters, `_` and `-` only (RFC 9309 2.2.1).
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")
# A user-agent line in every spelling protego reads ("User-agent:", "useragent", "User agent x").
_USER_AGENT_LINE = re.compile(r"^\s*user(?:-|\s*)agent(?:\s*:\s*|\s+)(\S.*)$", re.IGNORECASE)


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups name: `newsflow` of `newsflow/0.1 (+https://...)`."""
    token = _PRODUCT_TOKEN.match(user_agent.strip())
    return token.group(0).lower() if token else "*"


def parse_robots(text: str, agent: str) -> RobotsRules:
    """The rules for `agent` (a product token): its own group if robots.txt has one, else `*`.

    Never raises. Recently parsed files are reused (keyed by digest, so large files are not kept twice).
    """
    key = (hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), agent)
    with _PARSED_LOCK:
        rules = _PARSED.get(key)
        if rules is not None:
            _PARSED.move_to_end(key)
            return rules
    rules = RobotsRules(Protego.parse(_only_exact_groups(text, agent)), agent)
    with _PARSED_LOCK:
        _PARSED[key] = rules
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return rules


_PARSED: OrderedDict[tuple[bytes, str], RobotsRules] = OrderedDict()
_PARSED_LOCK = threading.Lock()
_PARSED_MAX = 512


def _only_exact_groups(text: str, agent: str) -> str:
    """robots.txt with every group naming another product token renamed so it cannot match `agent`.

    protego takes a group whose name starts our token (`news` for `newsflow`) and misses one that
    adds a version (`newsflow/0.2`); RFC 9309 matches the product token exactly, case aside.
    Groups naming our token are written as exactly it; `*` stays.
    """
    lines = text.removeprefix("\ufeff").splitlines()
    for i, line in enumerate(lines):
        m = _USER_AGENT_LINE.match(line.split("#", 1)[0])
        if not m:
            continue
        value = m.group(1).strip()
        if value == "*":
            continue
        token = _PRODUCT_TOKEN.match(value)
        ours = token is not None and token.group(0).lower() == agent
        lines[i] = f"User-agent: {agent}" if ours else f"User-agent: {agent}-not"
    return "\n".join(lines)


# -- the shared limiter -------------------------------------------------------------------------
@dataclass
class PolitenessConfig:
    """Operator settings of the shared politeness (see `pipeline.settings` for each)."""

    delay: float = 1.0  # seconds between requests to one host (the bucket's refill period)
    burst: int = 1  # requests a rested host may get back to back
    max_concurrency: int = 2  # requests in flight per host, across all workers
    max_wait: float = 10.0  # longer waits raise HostBusy instead of sleeping
    obey_robots: bool = True
    robots_ttl: float = 86400.0  # how long a fetched robots.txt is trusted
    robots_error_ttl: float = 600.0  # how long an unreachable robots.txt (5xx, timeout) blocks the host
    busy_backoff: float = 60.0  # back-off after a 429/503 that gives no Retry-After
    max_retry_after: float = 6 * 3600.0  # a Retry-After longer than this is cut to it
    max_crawl_delay: float = 60.0  # a Crawl-delay longer than this is cut to it
    user_agent: str = "newsflow"
    lease: float = 120.0  # a concurrency slot of a vanished worker frees itself after this

    @classmethod
    def from_settings(cls, settings: Any) -> PolitenessConfig:
        return cls(
            delay=settings.host_delay,
            burst=settings.host_burst,
            max_concurrency=settings.host_max_concurrency,
            max_wait=settings.host_max_wait,
            obey_robots=settings.obey_robots,
            robots_ttl=settings.robots_ttl,
            robots_error_ttl=settings.robots_error_ttl,
            busy_backoff=settings.host_busy_backoff,
            max_retry_after=settings.max_retry_after,
            max_crawl_delay=settings.max_crawl_delay,
            user_agent=settings.user_agent,
            lease=settings.total_timeout + settings.host_max_wait + 30.0,
        )


class Politeness:
    """Asks Redis before every request to a host; shared by all workers. Thread-safe."""

    def __init__(self, client: redis.Redis, config: PolitenessConfig) -> None:
        self.r = client
        self.config = config
        self.agent = agent_token(config.user_agent)
        self._acquire = client.register_script(_ACQUIRE)
        self._block = client.register_script(_BLOCK)
        self._confirm = client.register_script(_CONFIRM_SEND)
        self._done = client.register_script(_MARK_DONE)

    # -- keys ---------------------------------------------------------------------------------
    @staticmethod
    def _key(host: str, what: str) -> str:
        return f"{PREFIX}host:{host}:{what}"

    # -- the slot -----------------------------------------------------------------------------
    def acquire(self, host: str, delay: float | None = None) -> tuple[str, float, str]:
        """One attempt to take a request slot: (verdict, seconds, token); see `_ACQUIRE`."""
        token = uuid.uuid4().hex
        interval = self.config.delay if delay is None else delay
        verdict, seconds = self._acquire(
            keys=[self._key(host, "tat"), self._key(host, "blocked"), self._key(host, "inflight")],
            args=[
                repr(float(interval)),
                max(1, self.config.burst),
                repr(float(self.config.max_wait)),
                max(0, self.config.max_concurrency),
                repr(float(self.config.lease)),
                token,
            ],
        )
        return text(verdict), max(0.0, float(seconds)), token

    @contextmanager
    def slot(self, url: str, delay: float | None = None, sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
        """Hold one request slot of the URL's host; raise HostBusy when it cannot be had soon."""
        host = host_key(url)
        waited = 0.0
        while True:
            verdict, seconds, token = self.acquire(host, delay)
            if verdict == "ok":
                break
            if verdict == "busy" and waited + seconds <= self.config.max_wait:
                sleep(seconds)
                waited += seconds
                continue
            what = {
                "blocked": "host asked us to back off (Retry-After)",
                "busy": f"{self.config.max_concurrency} requests already in flight",
                "rate": "rate limit",
            }[verdict]
            raise HostBusy(f"fetch {url}: {host} busy: {what}; next try in {seconds:.0f} s", seconds, verdict)
        sent = False
        interval = self.config.delay if delay is None else delay
        try:
            if seconds > 0:
                sleep(seconds)
                # The host may have asked for a back-off while we waited for our slot.
                left = self.blocked_for(url)
                if left > 0:
                    raise HostBusy(
                        f"fetch {url}: {host} asked us to back off; next try in {left:.0f} s", left, "blocked"
                    )
            if interval > 0:
                for _ in range(50):
                    late = float(self._confirm(keys=[self._key(host, "sent")], args=[repr(float(interval))]))
                    if late <= 0:
                        break
                    sleep(late)
            sent = interval > 0
            yield
        finally:
            if sent:
                self._done(keys=[self._key(host, "sent")], args=[repr(float(interval))])
            if self.config.max_concurrency > 0:
                self.r.zrem(self._key(host, "inflight"), token)

    def block_host(self, url: str, seconds: float) -> float:
        """Keep every worker off the URL's host for `seconds` (bounded); returns the unix time it ends."""
        seconds = min(max(seconds, 1.0), self.config.max_retry_after)
        return float(self._block(keys=[self._key(host_key(url), "blocked")], args=[repr(seconds)]))

    def blocked_for(self, url: str) -> float:
        """Seconds left of the host's back-off (0 when none); by the Redis server's clock."""
        raw = self.r.get(self._key(host_key(url), "blocked"))
        if not raw:
            return 0.0
        sec, usec = self.r.time()
        return max(0.0, float(raw) - (sec + usec / 1e6))

    # -- robots.txt ---------------------------------------------------------------------------
    def robots(self, url: str, fetcher: Fetcher, sleep: Callable[[float], None] = time.sleep) -> RobotsRules:
        """The robots.txt rules for our agent on the URL's host: from Redis, else fetched and cached."""
        if not self.config.obey_robots:
            return ALLOW_ALL
        host = host_key(url)
        key = self._key(host, "robots")
        cached = self.r.get(key)
        if cached is None:
            robots_url = f"{host.rsplit(':', 1)[0]}:{host.rsplit(':', 1)[1]}/robots.txt"
            with self.slot(url, sleep=sleep):
                cached = self.r.get(key)  # another worker may have fetched it meanwhile
                if cached is None:
                    cached = self._fetch_robots(url, robots_url, fetcher)
        body = cached.decode("utf-8", "replace") if isinstance(cached, bytes) else str(cached)
        if body == "\x00unreachable":
            ttl = self.r.pttl(key)
            wait = max(1.0, ttl / 1000) if ttl and ttl > 0 else self.config.robots_error_ttl
            raise HostBusy(f"fetch {url}: robots.txt of {host} unreachable; next try in {wait:.0f} s", wait, "robots")
        return parse_robots(body, self.agent)

    def _fetch_robots(self, url: str, robots_url: str, fetcher: Fetcher) -> bytes:
        key = self._key(host_key(url), "robots")
        try:
            result = fetcher.fetch(robots_url, accept="text/plain", max_bytes=ROBOTS_MAX_BYTES, allowed_types=None)
            body = result.body
        except HTTPStatusError:
            body = b""  # 4xx: no robots.txt, everything allowed (RFC 9309 2.3.1.3)
        except TooLarge:
            body = b""  # absurdly large: treat as absent rather than block the host
        except (TransientError, DeadlineExceeded) as exc:
            # 5xx, unreachable or too slow to answer: assume complete disallow for a while (RFC 9309 2.3.1.4).
            if isinstance(exc, ServerBusy) and exc.retry_after:
                self.block_host(url, exc.retry_after)
            body = b"\x00unreachable"
            self.r.set(key, body, px=int(self.config.robots_error_ttl * 1000))
            return body
        self.r.set(key, body, px=int(self.config.robots_ttl * 1000))
        return body

    # -- a polite fetch -----------------------------------------------------------------------
    def fetch(
        self,
        url: str,
        fetcher: Fetcher,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> FetchResult:
        """`fetcher.fetch(url, **kwargs)` after robots.txt, back-off, concurrency and rate allow it.

        Raises RobotsDisallowed (a Dropped), HostBusy (come back later), or what the fetch raises;
        a 429/503 puts the whole host in back-off for every worker.
        """

        def admitted(target: str) -> AbstractContextManager[None]:
            # The same rules for the first host and for any other a redirect leads to.
            rules = self.robots(target, fetcher, sleep=sleep)
            if not rules.allowed(target):
                raise RobotsDisallowed(target)
            delay = self.config.delay
            if rules.crawl_delay is not None:
                delay = max(delay, min(rules.crawl_delay, self.config.max_crawl_delay))
            return self.slot(target, delay=delay, sleep=sleep)

        with admitted(url):
            try:
                return fetcher.fetch(url, on_new_host=admitted, **kwargs)
            except ServerBusy as exc:
                if exc.status in (429, 503):
                    wait = exc.retry_after if exc.retry_after else self.config.busy_backoff
                    until = self.block_host(exc.url or url, wait)
                    exc.retry_after = max(exc.retry_after or 0.0, until - time.time())
                raise
