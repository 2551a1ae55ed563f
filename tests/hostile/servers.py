"""Misbehaving answers for the hostile-input tests: routes for `SiteServer`, and a bare listener.

Every server here listens on a loopback address and is started by the test that needs it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

Route = Callable[[BaseHTTPRequestHandler], None]


def send(body: bytes, headers: dict[str, str]) -> Route:
    """A route answering 200 with `body` as is and `headers` (over text/html and the true length)."""

    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        for k, v in {"Content-Type": "text/html", "Content-Length": str(len(body)), **headers}.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    return handler


def _drip(h: BaseHTTPRequestHandler, data: bytes, every: float) -> None:
    """Write `data` one byte at a time, `every` seconds apart, until done or the client leaves."""
    try:
        for i in range(len(data)):
            h.wfile.write(data[i : i + 1])
            h.wfile.flush()
            time.sleep(every)
    except OSError:  # the client hung up: what a deadline is for
        pass
    h.close_connection = True


def drip_headers(every: float = 0.1, seconds: float = 60.0) -> Route:
    """A route that sends its status line and headers one byte at a time, for `seconds`."""
    pad = b"X-Pad: " + b"a" * int(seconds / every) + b"\r\n"

    def handler(h: BaseHTTPRequestHandler) -> None:
        _drip(h, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + pad + b"Content-Length: 2\r\n\r\nok", every)

    return handler


def drip_body(every: float = 0.1, seconds: float = 60.0) -> Route:
    """A route with prompt headers and a body that comes one byte at a time, for `seconds`."""
    body = b"<p>" + b"a" * int(seconds / every) + b"</p>"

    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        _drip(h, body, every)

    return handler


def slow_redirect(to: str, delay: float) -> Route:
    """A route that waits `delay` seconds, then redirects to `to`: each hop on time, the chain not."""

    def handler(h: BaseHTTPRequestHandler) -> None:
        time.sleep(delay)
        h.send_response(302)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return handler


class Listener:
    """A bare TCP listener that counts the connections it accepts (and answers none)."""

    def __init__(self, host: str, family: socket.AddressFamily = socket.AF_INET) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()
