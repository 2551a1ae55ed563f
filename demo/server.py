"""`SiteServer`: a folder of pages and feeds served on a loopback address, for the demo,
the tests and the benchmarks.

It replaces `{{BASE}}` in every file with its own http://HOST:PORT, so feeds and canonical
links point back at it; `routes` answer chosen paths with a function instead (the tests'
misbehaving servers). Standard library only.
"""

from __future__ import annotations

import mimetypes
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CONTENT_TYPES = {
    # No charset for pages: their own <meta charset> speaks (some fixtures are not UTF-8).
    ".html": "text/html",
    ".xml": "application/xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


class SiteServer:
    """A static site on 127.0.0.1 with `{{BASE}}` substituted; records every request path."""

    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] | None = None,
    ) -> None:
        self.root = Path(root)
        self.requests: list[str] = []
        # Paths answered by a function instead of a file (the tests' misbehaving pages).
        self.routes = dict(routes or {})
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append(self.path)
                route = server.routes.get(self.path.split("?", 1)[0])
                if route is not None:
                    route(self)
                    return
                path = self.path.split("?", 1)[0].split("#", 1)[0].lstrip("/") or "index.html"
                file = (server.root / path).resolve()
                if server.root.resolve() not in file.parents or not file.is_file():
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = file.read_bytes().replace(b"{{BASE}}", server.base.encode())
                ctype = CONTENT_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0]
                self.send_response(200)
                self.send_header("Content-Type", ctype or "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
