"""HTTP fetching with limits: the one module of `pipeline/` that touches the network.

Every connection goes through `GuardedBackend`, which resolves the host itself, refuses
addresses outside the public internet (unless the operator allows their network) and
connects to the very address it checked, so DNS rebinding cannot slip past the guard.
Redirects are followed by hand, each hop guarded and counted. A whole fetch (connect,
headers, body, redirects, decompression) ends at one total deadline: every socket operation
waits at most until then, so a server dripping a byte at a time cannot hold a worker.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from pipeline.errors import (
    AddressRefused,
    DeadlineExceeded,
    HTTPStatusError,
    PermanentError,
    ServerBusy,
    TooLarge,
    TransientError,
)
from pipeline.settings import Settings, SettingsView, setting
from pipeline.urls import IPAddress, ascii_host, ip_literal, request_url

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECT_CODES = (301, 302, 303, 307, 308)
_LOCATION = "x-newsflow-location"  # where `_hide_location` keeps a redirect's target
# Only encodings we decode ourselves, with the decoded-size cap applied inside the inflater.
ACCEPT_ENCODING = "gzip, deflate"
# Feeds come with every kind of label; refuse only what is clearly not text.
NOT_FEED_PREFIXES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")


# A socket timeout cut to the deadline may wake a hair before it by the monotonic clock.
_DEADLINE_SLACK = 0.05


def refused_for(url: str, exc: AddressRefused) -> AddressRefused:
    """The refusal `exc`, said of the page `url` that was asked for: a refusal met on the way (a
    redirect's target, the host's robots.txt, a name that resolves to a refused address) names
    what was refused after it."""
    said = str(exc)
    if said.startswith(f"fetch {url}: "):
        return exc
    return AddressRefused(f"fetch {url}: {said.removeprefix('fetch ')}")


class AddressGuard:
    """Decides whether an IP address may be contacted."""

    def __init__(
        self, allowed: Sequence[IPNetwork] = (), lookup: Callable[..., list[Any]] = socket.getaddrinfo
    ) -> None:
        self.allowed = list(allowed)
        self.lookup = lookup

    def check_ip(self, ip: str, host: str) -> None:
        """Raise AddressRefused unless `ip`, an address `host` resolves to, may be contacted."""
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
        reason = self.refusal(addr)
        if reason:
            raise AddressRefused(f"{host} resolves to {_plain(addr)}, {reason}; {_REFUSED_NEXT}")

    def refusal(self, addr: IPAddress) -> str | None:
        """Why `addr` may not be contacted, or None when it may."""
        addr = _plain(addr)
        if any(addr in net for net in self.allowed):
            return None
        if not addr.is_global or addr.is_multicast or addr.is_reserved or addr.is_link_local:
            return _PRIVATE
        if isinstance(addr, ipaddress.IPv6Address):
            if addr.is_site_local:
                return _PRIVATE
            for inner in _embedded_ipv4(addr):
                if self.refusal(inner):
                    return f"an IPv6 address carrying {inner}, {_PRIVATE}"
        return None

    def check_url(self, url: str) -> str:
        """Refuse a URL whose host is a forbidden IP address, however it is spelled, before any connection.

        Returns the URL with such a host in its standard spelling (`0x7f.1` becomes `127.0.0.1`),
        which is the address connected to; names are checked when they are resolved.
        """
        try:
            parts = urlsplit(url)
            written = parts.hostname or ""
            addr = ip_literal(ascii_host(written))
        except ValueError as exc:
            raise AddressRefused(f"fetch {url}: the host is not a valid address ({exc}); not fetched") from None
        if addr is None:
            return url
        reason = self.refusal(addr)
        standard = f"[{addr}]" if addr.version == 6 else str(addr)
        if reason:
            means = "is" if written in (str(addr), standard) else f"means {_plain(addr)},"
            raise AddressRefused(f"fetch {url}: {written} {means} {reason}; {_REFUSED_NEXT}")
        if written in (str(addr), standard):
            return url
        userinfo, _, _ = parts.netloc.rpartition("@")
        netloc = (f"{userinfo}@" if userinfo else "") + standard + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address of `host`, each checked; raises AddressRefused on the first bad one."""
        try:
            infos = self._lookup(host, port)
        except socket.gaierror as exc:
            raise TransientError(f"cannot resolve {host}: {exc.strerror}") from None
        ips = list(dict.fromkeys(info[4][0] for info in infos))
        for ip in ips:
            self.check_ip(str(ip), host)
        return [str(ip) for ip in ips]

    def _lookup(self, host: str, port: int) -> list[Any]:
        """The resolver's answer, waited for no longer than the fetch's deadline. A lookup cannot
        be cancelled: one past the deadline finishes in its thread, unheard (a name server that
        answers slowly is as much in a hostile site's hands as its web server)."""
        wait = _until_deadline(None, httpcore.ConnectTimeout)
        if wait is None:
            return self.lookup(host, port, type=socket.SOCK_STREAM)
        try:
            return _lookups().submit(self.lookup, host, port, type=socket.SOCK_STREAM).result(timeout=wait)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} outlasted the deadline") from None


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _lookups() -> ThreadPoolExecutor:
    """The threads that name lookups with a deadline run in, made on first use in a process."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="newsflow-dns")
        return _pool


def _forget_pool() -> None:
    """In a forked child: the parent's pool counts threads the child does not have."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


# The total deadline (time.monotonic()) of the fetch running in this thread or context. Every
# socket operation of `GuardedBackend` waits at most until then, whatever its own timeout.
_deadline: ContextVar[float | None] = ContextVar("newsflow_fetch_deadline", default=None)


def _until_deadline(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout` cut to the time left before the fetch's deadline; raise `expired` when none is left."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read and write ends by the fetch's total deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _until_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _until_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        timeout = _until_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


_PRIVATE = "a private, loopback or reserved address"
_REFUSED_NEXT = "not fetched (allow its network with NEWSFLOW_ALLOW_PRIVATE_NETWORKS if this is intended)"


def _plain(addr: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (`::ffff:127.0.0.2`) as the IPv4 address it is."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 (RFC 6052, RFC 8215)
# and the deprecated IPv4-compatible form. A gateway may forward them to that IPv4 address.
_IPV4_CARRIERS = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96"))


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (6to4, Teredo, NAT64, IPv4-compatible)."""
    found = []
    if addr.sixtofour:
        found.append(addr.sixtofour)
    if addr.teredo:
        found.extend(addr.teredo)
    if any(addr in net for net in _IPV4_CARRIERS):
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return found


class GuardedBackend(httpcore.SyncBackend):
    """httpcore network backend that connects only to addresses the guard accepts, within the deadline."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for ip in self.guard.resolve(host, port):
            try:
                wait = _until_deadline(timeout, httpcore.ConnectTimeout)
                stream = super().connect_tcp(ip, port, wait, local_address, socket_options)
                return _DeadlineStream(stream)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")


class GuardedTransport(httpx.HTTPTransport):
    """httpx transport whose connection pool uses `GuardedBackend`."""

    def __init__(self, guard: AddressGuard, max_connections: int = 100) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(guard),
        )


@dataclass
class FetchResult:
    url: str  # as asked
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("\"' ").lower()
        return None


@dataclass
class FetchLimits(SettingsView):
    """The operator's limits on one fetch (see `pipeline.settings` for each)."""

    connect_timeout: float = setting("connect_timeout")
    read_timeout: float = setting("read_timeout")
    total_timeout: float = setting("total_timeout")
    max_bytes: int = setting("max_page_bytes")
    max_redirects: int = setting("max_redirects")
    user_agent: str = setting("user_agent")


class PageFetcher(Protocol):
    """What fetches a URL: a `Fetcher`, or a `PoliteFetcher` that asks the shared politeness first."""

    def fetch(
        self,
        url: str,
        *,
        accept: str = ...,
        headers: dict[str, str] | None = ...,
        max_bytes: int | None = ...,
        allowed_types: Sequence[str] | None = ...,
    ) -> FetchResult: ...


class Fetcher:
    """Fetches one URL at a time within limits. Create once per process; thread-safe."""

    def __init__(self, limits: FetchLimits, guard: AddressGuard, transport: httpx.BaseTransport | None = None):
        self.limits = limits
        self.guard = guard
        timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
        self.client = httpx.Client(
            transport=transport or GuardedTransport(guard),
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": limits.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            event_hooks={"response": [_hide_location]},
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Fetcher:
        return cls(FetchLimits.from_settings(settings), AddressGuard(settings.allowed_networks))

    def fetch(
        self,
        url: str,
        *,
        accept: str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
        allowed_types: Sequence[str] | None = HTML_TYPES,
        on_new_host: Callable[[str], AbstractContextManager[object]] | None = None,
    ) -> FetchResult:
        """GET `url`, following redirects; raise TransientError / PermanentError on failure.

        `allowed_types`: content types accepted (None accepts anything but `NOT_FEED_PREFIXES`).
        A 304 answer is returned as is, with an empty body. `on_new_host(target)` is entered
        before a redirect leads to another host (scheme, host or port) and held until the
        fetch ends: the caller's politeness for that host (robots.txt, rate, concurrency).
        """
        deadline = time.monotonic() + self.limits.total_timeout
        outer = _deadline.get()  # a fetch inside another (robots.txt after a redirect) ends with it
        if outer is not None:
            deadline = min(deadline, outer)
        token = _deadline.set(deadline)
        try:
            with ExitStack() as held:
                return self._fetch(url, accept, headers, max_bytes, allowed_types, on_new_host, held, deadline)
        except AddressRefused as exc:
            raise refused_for(url, exc) from None
        finally:
            _deadline.reset(token)

    def _fetch(
        self,
        url: str,
        accept: str,
        headers: dict[str, str] | None,
        max_bytes: int | None,
        allowed_types: Sequence[str] | None,
        on_new_host: Callable[[str], AbstractContextManager[object]] | None,
        held: ExitStack,
        deadline: float,
    ) -> FetchResult:
        cap = max_bytes or self.limits.max_bytes
        current = url
        seen: set[str] = set()
        for _hop in range(self.limits.max_redirects + 1):
            seen.add(current)
            req_headers = {"Accept": accept, **(headers or {})}
            current = self.guard.check_url(current)
            try:
                with self.client.stream("GET", current, headers=req_headers) as resp:
                    if resp.status_code in REDIRECT_CODES:
                        location = resp.headers.get(_LOCATION)
                        if not location:
                            raise PermanentError(f"fetch {url}: HTTP {resp.status_code} redirect without Location")
                        try:
                            nxt = request_url(location, base=current)
                        except ValueError as exc:
                            raise PermanentError(f"fetch {url}: bad redirect target ({exc})") from None
                        if nxt in seen:
                            raise PermanentError(f"fetch {url}: redirect loop at {nxt}")
                        if on_new_host is not None and _origin(nxt) != _origin(current):
                            held.enter_context(on_new_host(nxt))
                        current = nxt
                        continue
                    _raise_for_status(url, resp, current)
                    if resp.status_code == 304:
                        return FetchResult(url, current, 304, _headers(resp), b"")
                    result = FetchResult(url, current, resp.status_code, _headers(resp), b"")
                    _check_type(url, result.content_type, allowed_types)
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > cap:
                        raise TooLarge(url, cap, declared=int(declared))
                    result.body = _read_capped(url, resp, cap, deadline, self.limits.total_timeout)
                    return result
            except httpx.TimeoutException as exc:
                if time.monotonic() >= deadline - _DEADLINE_SLACK:
                    raise DeadlineExceeded(url, self.limits.total_timeout) from None
                raise TransientError(f"fetch {url}: timed out ({type(exc).__name__})") from None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise PermanentError(f"fetch {url}: cannot be fetched ({exc}); not fetched") from None
            except httpx.TransportError as exc:
                raise TransientError(f"fetch {url}: {type(exc).__name__}: {exc}") from None
        raise PermanentError(f"fetch {url}: more than {self.limits.max_redirects} redirects")

    def close(self) -> None:
        self.client.close()


def _hide_location(response: httpx.Response) -> None:
    """Keep a Location header from httpx, which would parse it and fail on a hostile one (`http://[::1`,
    `javascript:`) before we see the answer: redirects are read and judged here, by `_fetch`."""
    location = response.headers.get("location")
    if location is not None:
        del response.headers["location"]
        response.headers[_LOCATION] = location


def _headers(resp: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in resp.headers.items()}


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _raise_for_status(url: str, resp: httpx.Response, answered: str | None = None) -> None:
    code = resp.status_code
    if code < 400:
        return
    if code == 429 or code >= 500 or code == 408:
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        hint = f", server asks to wait {retry_after:.0f} s" if retry_after else ""
        raise ServerBusy(f"fetch {url}: HTTP {code}{hint}", code, retry_after=retry_after, url=answered or url)
    raise HTTPStatusError(f"fetch {url}: HTTP {code}", code)


def _check_type(url: str, content_type: str, allowed: Sequence[str] | None) -> None:
    if allowed is None:
        if content_type.startswith(NOT_FEED_PREFIXES):
            raise PermanentError(f"fetch {url}: content type {content_type!r} is not a feed")
        return
    if content_type and content_type not in allowed:
        raise PermanentError(f"fetch {url}: content type {content_type!r} is not HTML; skipped")


def _read_capped(url: str, resp: httpx.Response, cap: int, deadline: float, total: float) -> bytes:
    """The decoded body, at most `cap` bytes, read before `deadline`.

    Compressed bodies are inflated here, never more than the cap allows at a time, so a small
    gzip or deflate bomb is stopped after `cap` bytes of output, not after it fills memory.
    """
    inflater = _Inflater.for_encoding(url, resp.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    for raw in resp.iter_raw(16384):
        if time.monotonic() > deadline:
            raise DeadlineExceeded(url, total)
        for chunk in inflater.feed(raw, cap - size + 1):
            size += len(chunk)
            if size > cap:
                raise TooLarge(url, cap)
            chunks.append(chunk)
    if time.monotonic() > deadline:
        raise DeadlineExceeded(url, total)
    chunks.append(inflater.flush())
    body = b"".join(chunks)
    if len(body) > cap:
        raise TooLarge(url, cap)
    return body


class _Inflater:
    """Streaming gzip/deflate decoder whose output per call is bounded by the caller."""

    def __init__(self, url: str, wbits: int | None) -> None:
        self.url = url
        self.wbits = wbits
        self._obj = zlib.decompressobj(wbits) if wbits is not None else None
        self._first = True

    @classmethod
    def for_encoding(cls, url: str, header: str) -> _Inflater:
        codings = [c.strip().lower() for c in header.split(",") if c.strip() and c.strip().lower() != "identity"]
        if not codings:
            return cls(url, None)
        if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
            raise PermanentError(
                f"fetch {url}: content encoding {header!r} not supported (we ask for {ACCEPT_ENCODING})"
            )
        return cls(url, 31 if codings[0] in ("gzip", "x-gzip") else 15)

    def feed(self, data: bytes, room: int) -> Iterable[bytes]:
        """Decode `data`, yielding pieces; stops once `room` bytes came out (the caller then fails)."""
        if self._obj is None:
            yield data
            return
        room = max(1, room)
        try:
            out = self._decompress(data, room)
            yield out
            room -= len(out)
            while self._obj.unconsumed_tail and room > 0:
                out = self._obj.decompress(self._obj.unconsumed_tail, room)
                yield out
                room -= len(out)
        except zlib.error as exc:
            raise PermanentError(f"fetch {self.url}: corrupt compressed body ({exc})") from None

    def _decompress(self, data: bytes, room: int) -> bytes:
        assert self._obj is not None
        if self._first and self.wbits == 15:
            self._first = False
            try:
                return self._obj.decompress(data, room)
            except zlib.error:
                # Some servers send raw deflate without the zlib wrapper.
                self._obj = zlib.decompressobj(-15)
        self._first = False
        return self._obj.decompress(data, room)

    def flush(self) -> bytes:
        if self._obj is None:
            return b""
        try:
            return self._obj.flush()
        except zlib.error as exc:
            raise PermanentError(f"fetch {self.url}: corrupt compressed body ({exc})") from None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
