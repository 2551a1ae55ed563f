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

from protego import Protego

from pipeline.errors import (
    AddressRefused,
    DeadlineExceeded,
    HostBusy,
    HTTPStatusError,
    RobotsDisallowed,
    ServerBusy,
    TooLarge,
    TransientError,
)
from pipeline.fetching import Fetcher, FetchResult, refused_for
from pipeline.settings import Settings, SettingsView, setting
from pipeline.state.hosts import HostStore

ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB


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
class PolitenessConfig(SettingsView):
    """Operator settings of the shared politeness (see `pipeline.settings` for each)."""

    delay: float = setting("host_delay")  # seconds between requests to one host (the bucket's refill)
    burst: int = setting("host_burst")  # requests a rested host may get back to back
    max_concurrency: int = setting("host_max_concurrency")  # requests in flight per host, all workers
    max_wait: float = setting("host_max_wait")  # longer waits raise HostBusy instead of sleeping
    obey_robots: bool = setting("obey_robots")
    robots_ttl: float = setting("robots_ttl")  # how long a fetched robots.txt is trusted
    robots_error_ttl: float = setting("robots_error_ttl")  # an unreachable robots.txt blocks the host this long
    busy_backoff: float = setting("host_busy_backoff")  # back-off after a 429/503 without Retry-After
    max_retry_after: float = setting("max_retry_after")  # a Retry-After longer than this is cut to it
    max_crawl_delay: float = setting("max_crawl_delay")  # a Crawl-delay longer than this is cut to it
    user_agent: str = setting("user_agent")
    lease: float = 120.0  # a concurrency slot of a vanished worker frees itself after this

    @classmethod
    def from_settings(cls, settings: Settings, **extra: Any) -> PolitenessConfig:
        # A slot outlives the longest request it can cover.
        lease = settings.total_timeout + settings.host_max_wait + 30.0
        return super().from_settings(settings, **{"lease": lease, **extra})


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
        except AddressRefused as exc:
            raise refused_for(url, exc) from None  # the page's refusal, met at its robots.txt
        except HTTPStatusError:
            body = b""  # 4xx: no robots.txt, everything allowed (RFC 9309 2.3.1.3)
        except TooLarge:
            body = b""  # absurdly large: treat as absent rather than block the host
        except (TransientError, DeadlineExceeded) as exc:
            # 5xx, unreachable or too slow to answer: assume complete disallow for a while (RFC 9309 2.3.1.4).
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


class PoliteFetcher:
    """A fetcher that asks the shared politeness before every request: the one way workers fetch.

    It has the `fetch` of a `Fetcher` (see `pipeline.fetching.PageFetcher`), so feeds, pages
    and discovery take either without knowing whether politeness is in front.
    """

    def __init__(self, fetcher: Fetcher, politeness: Politeness) -> None:
        self.inner = fetcher
        self.politeness = politeness

    def fetch(self, url: str, **kwargs: Any) -> FetchResult:
        """`Fetcher.fetch`, once robots.txt, back-off, concurrency and rate allow it."""
        return self.politeness.fetch(url, self.inner, **kwargs)
