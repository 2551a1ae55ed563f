"""A feed server for the tests: serves a body that the test changes, with validators it chooses."""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from pipeline.fetching import AddressGuard, Fetcher, FetchLimits

LOCAL = AddressGuard([ipaddress.ip_network("127.0.0.1/32")])


def local_fetcher(**limits: object) -> Fetcher:
    """A Fetcher allowed to reach 127.0.0.1 only."""
    return Fetcher(FetchLimits(**{"read_timeout": 5.0, "total_timeout": 10.0, **limits}), LOCAL)  # type: ignore[arg-type]


def redirect(to: str) -> Callable[[BaseHTTPRequestHandler], None]:
    """A route that answers 302 to `to`."""

    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return handler


def rss(base: str, items: list[tuple[str, str | None]], title: str = "Feed") -> bytes:
    """An RSS 2.0 body whose items are (path, guid) pairs."""
    xml = "".join(
        f"<item><title>{p}</title><link>{base}/{p}</link>"
        + (f"<guid isPermaLink='false'>{g}</guid>" if g else "")
        + "</item>"
        for p, g in items
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title>{xml}</channel></rss>".encode()


@dataclass
class Hit:
    at: float
    path: str
    headers: dict[str, str]


@dataclass
class FeedRoute:
    """A feed endpoint. `etag`: "auto" (hash of body), a fixed string (a liar), or None.

    It answers 304 when the client's If-None-Match equals the ETag it would send.
    """

    body: bytes = b""
    etag: str | None = "auto"
    status: int = 200
    extra_headers: dict[str, str] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def current_etag(self) -> str | None:
        if self.etag == "auto":
            return '"' + hashlib.sha1(self.body).hexdigest()[:12] + '"'
        return self.etag

    def __call__(self, h: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.hits.append(Hit(time.time(), h.path, {k.lower(): v for k, v in h.headers.items()}))
            body, etag, status = self.body, self.current_etag(), self.status
        if status != 200:
            h.send_response(status)
            for k, v in self.extra_headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if etag and h.headers.get("If-None-Match") == etag:
            h.send_response(304)
            h.send_header("ETag", etag)
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        if etag:
            h.send_header("ETag", etag)
        for k, v in self.extra_headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def raw_targets(answers: dict[str, tuple[str, bytes]]) -> Callable[[BaseHTTPRequestHandler], None]:
    """A route answering only the exact request targets of `answers` ({target: (content type,
    body)}) and 404 to any other spelling: a server that reads its query raw, as Invision
    ("?/topic/12/") and Domino ("?OpenDocument") do."""

    def handler(h: BaseHTTPRequestHandler) -> None:
        ctype, body = answers.get(h.path, ("text/plain", b"no such page"))
        h.send_response(200 if h.path in answers else 404)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handler
