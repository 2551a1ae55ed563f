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

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from pipeline.errors import Dropped, PermanentError, TransientError
from pipeline.fetching import Fetcher, FetchResult, HTTPStatusError, ServerBusy
from pipeline.settings import Settings, default_of
from pipeline.state.hosts import HostStore

ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB


class HostBusy(TransientError):
    """The host may not be asked now (back-off, rate or concurrency): come back after `retry_after`.

    Not a failure of the item: a task defers itself without spending a retry.
    """

    def __init__(self, message: str, retry_after: float, reason: str) -> None:
        super().__init__(message, retry_after=retry_after)
        self.reason = reason


class RobotsDisallowed(Dropped):
    """robots.txt of the host disallows this URL for our user agent."""

    def __init__(self, url: str) -> None:
        super().__init__("robots", f"{url} is disallowed by robots.txt; not fetched")
        self.url = url


def host_key(url: str) -> str:
    """The politeness key of a URL: scheme, host and port, as robots.txt is scoped (RFC 9309)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{host}:{port}"


# -- robots.txt ---------------------------------------------------------------------------------
@dataclass
class RobotsRules:
    """The group of robots.txt rules that applies to one user agent."""

    rules: list[tuple[bool, str]] = field(default_factory=list)  # (allow, pattern)
    crawl_delay: float | None = None

    def allowed(self, url: str) -> bool:
        """True when the longest matching rule allows the path (allow wins ties; no match allows)."""
        parts = urlsplit(url)
        path = _normalize_robots_path(parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        best_len = -1
        verdict = True
        for allow, pattern in self.rules:
            if not pattern:
                continue  # "Disallow:" with nothing means allow all
            if _pattern_regex(pattern).match(path):
                n = len(pattern)
                if n > best_len or (n == best_len and allow):
                    best_len, verdict = n, allow
        return verdict


ALLOW_ALL = RobotsRules()
DISALLOW_ALL = RobotsRules(rules=[(False, "/")])


@lru_cache(maxsize=4096)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = _normalize_robots_path(pattern[:-1] if anchored else pattern)
    regex = ".*".join(re.escape(piece) for piece in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""), re.DOTALL)


def _normalize_robots_path(path: str) -> str:
    # Compare decoded paths, so /caf%C3%A9 and /café match the same rule.
    return unquote(path)


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups name: `newsflow` of `newsflow/0.1 (+https://...)`."""
    token = re.match(r"[A-Za-z0-9_-]+", user_agent.strip())
    return token.group(0).lower() if token else "*"


@lru_cache(maxsize=1024)
def parse_robots(text: str, agent: str) -> RobotsRules:
    """The rules of the group for `agent` (a product token), else of `*`, else allow all.

    Follows RFC 9309: groups start at consecutive user-agent lines; groups naming the same
    agent are merged; unknown lines are ignored; never raises.
    """
    groups: dict[str, RobotsRules] = {}
    current: list[str] = []
    in_agents = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if not in_agents:
                current = []
            current.append(value.lower())
            in_agents = True
            continue
        in_agents = False
        if not current:
            continue
        for name in current:
            group = groups.setdefault(name, RobotsRules(rules=[]))
            if key in ("allow", "disallow"):
                group.rules.append((key == "allow", value))
            elif key == "crawl-delay":
                try:
                    delay = float(value)
                except ValueError:
                    continue
                if delay >= 0:
                    group.crawl_delay = delay
    agent = agent.lower()
    for name, group in groups.items():
        if name != "*" and (name == agent or agent.startswith(name)):
            return group
    return groups.get("*", ALLOW_ALL)


# -- the shared limiter -------------------------------------------------------------------------
@dataclass
class PolitenessConfig:
    """Operator settings of the shared politeness (see `pipeline.settings` for each)."""

    delay: float = default_of("host_delay")  # seconds between requests to one host (the bucket's refill)
    burst: int = default_of("host_burst")  # requests a rested host may get back to back
    max_concurrency: int = default_of("host_max_concurrency")  # requests in flight per host, all workers
    max_wait: float = default_of("host_max_wait")  # longer waits raise HostBusy instead of sleeping
    obey_robots: bool = default_of("obey_robots")
    robots_ttl: float = default_of("robots_ttl")  # how long a fetched robots.txt is trusted
    robots_error_ttl: float = default_of("robots_error_ttl")  # an unreachable robots.txt blocks the host this long
    busy_backoff: float = default_of("host_busy_backoff")  # back-off after a 429/503 without Retry-After
    max_retry_after: float = default_of("max_retry_after")  # a Retry-After longer than this is cut to it
    max_crawl_delay: float = default_of("max_crawl_delay")  # a Crawl-delay longer than this is cut to it
    user_agent: str = default_of("user_agent")
    lease: float = 120.0  # a concurrency slot of a vanished worker frees itself after this

    @classmethod
    def from_settings(cls, settings: Settings) -> PolitenessConfig:
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

    def __init__(self, hosts: HostStore, config: PolitenessConfig) -> None:
        self.hosts = hosts
        self.config = config
        self.agent = agent_token(config.user_agent)

    # -- the slot -----------------------------------------------------------------------------
    def acquire(self, host: str, delay: float | None = None) -> tuple[str, float, str]:
        """One attempt to take a request slot: (verdict, seconds, token); see `_ACQUIRE`."""
        token = uuid.uuid4().hex
        interval = self.config.delay if delay is None else delay
        verdict, seconds = self.hosts.acquire(
            host,
            interval=interval,
            burst=self.config.burst,
            max_wait=self.config.max_wait,
            cap=self.config.max_concurrency,
            lease=self.config.lease,
            token=token,
        )
        return verdict, seconds, token

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
                    late = self.hosts.confirm_send(host, interval)
                    if late <= 0:
                        break
                    sleep(late)
            sent = interval > 0
            yield
        finally:
            if sent:
                self.hosts.mark_done(host, interval)
            if self.config.max_concurrency > 0:
                self.hosts.release(host, token)

    def block_host(self, url: str, seconds: float) -> float:
        """Keep every worker off the URL's host for `seconds` (bounded); returns the unix time it ends."""
        seconds = min(max(seconds, 1.0), self.config.max_retry_after)
        return self.hosts.block(host_key(url), seconds)

    def blocked_for(self, url: str) -> float:
        """Seconds left of the host's back-off (0 when none); by the Redis server's clock."""
        return self.hosts.blocked_for(host_key(url))

    # -- robots.txt ---------------------------------------------------------------------------
    def robots(self, url: str, fetcher: Fetcher, sleep: Callable[[float], None] = time.sleep) -> RobotsRules:
        """The robots.txt rules for our agent on the URL's host: from Redis, else fetched and cached."""
        if not self.config.obey_robots:
            return ALLOW_ALL
        host = host_key(url)
        cached = self.hosts.robots(host)
        if cached is None:
            robots_url = f"{host.rsplit(':', 1)[0]}:{host.rsplit(':', 1)[1]}/robots.txt"
            with self.slot(url, sleep=sleep):
                cached = self.hosts.robots(host)  # another worker may have fetched it meanwhile
                if cached is None:
                    cached = self._fetch_robots(url, robots_url, fetcher)
        body = cached.decode("utf-8", "replace")
        if body == "\x00unreachable":
            ttl = self.hosts.robots_ttl(host)
            wait = max(1.0, ttl) if ttl else self.config.robots_error_ttl
            raise HostBusy(f"fetch {url}: robots.txt of {host} unreachable; next try in {wait:.0f} s", wait, "robots")
        return parse_robots(body, self.agent)

    def _fetch_robots(self, url: str, robots_url: str, fetcher: Fetcher) -> bytes:
        host = host_key(url)
        try:
            result = fetcher.fetch(robots_url, accept="text/plain", max_bytes=ROBOTS_MAX_BYTES, allowed_types=None)
            body = result.body
        except HTTPStatusError:
            body = b""  # 4xx: no robots.txt, everything allowed (RFC 9309 2.3.1.3)
        except PermanentError as exc:
            if "byte limit" in str(exc):
                body = b""  # absurdly large: treat as absent rather than block the host
            else:
                raise
        except TransientError as exc:
            # 5xx or unreachable: assume complete disallow for a while (RFC 9309 2.3.1.4).
            if isinstance(exc, ServerBusy) and exc.retry_after:
                self.block_host(url, exc.retry_after)
            body = b"\x00unreachable"
            self.hosts.set_robots(host, body, self.config.robots_error_ttl)
            return body
        self.hosts.set_robots(host, body, self.config.robots_ttl)
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
