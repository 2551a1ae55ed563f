"""The HTTP search API, a one-page search UI, health and Prometheus metrics.

Routes:
  GET /                     the search page
  GET /api/search?q=...     JSON results: q, site, language, since, until, limit, cursor, all=1
  GET /api/articles/<id>    one article document
  GET /healthz              200 when Redis and the search backend answer
  GET /metrics              Prometheus text format: queues, counters, index size, articles waiting
                            to be indexed, and whether the search backend answers (served while it is down)
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipeline.errors import TransientError
from pipeline.models import as_utc
from pipeline.search.base import SearchQuery
from workers.runtime import Runtime

log = logging.getLogger("newsflow.api")
MAX_LIMIT = 100


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_search(params: dict[str, list[str]]) -> SearchQuery:
    """A SearchQuery from query-string parameters; ApiError(400) on bad values."""

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[0] if values and values[0] != "" else None

    def date(name: str) -> datetime | None:
        value = one(name)
        if value is None:
            return None
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            raise ApiError(400, f"{name}={value!r} is not a date (YYYY-MM-DD or ISO 8601)") from None

    limit_raw = one("limit") or "10"
    if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= MAX_LIMIT:
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}")
    cursor = None
    if one("cursor"):
        try:
            cursor = json.loads(one("cursor") or "")
        except ValueError:
            raise ApiError(400, "cursor must be the next_cursor value of a previous answer") from None
        if not isinstance(cursor, list):
            raise ApiError(400, "cursor must be the next_cursor value of a previous answer")
    return SearchQuery(
        text=one("q") or "",
        site=one("site"),
        language=one("language"),
        since=date("since"),
        until=date("until"),
        limit=int(limit_raw),
        collapse=one("all") not in ("1", "true"),
        search_after=cursor,
        facets=True,
    )


def metrics_text(rt: Runtime) -> str:
    lines = [
        "# HELP newsflow_queue_depth Messages waiting in a stage queue.",
        "# TYPE newsflow_queue_depth gauge",
    ]
    for queue, depth in rt.state.broker.depths().items():
        lines.append(f'newsflow_queue_depth{{queue="{queue}"}} {depth}')
    lines += [
        "# HELP newsflow_in_flight Messages reserved by workers and not yet acknowledged.",
        "# TYPE newsflow_in_flight gauge",
        f"newsflow_in_flight {rt.state.broker.in_flight()}",
        "# HELP newsflow_dead_letters Tasks that failed for good and wait for an operator.",
        "# TYPE newsflow_dead_letters gauge",
        f"newsflow_dead_letters {rt.state.dead.count()}",
        "# HELP newsflow_index_pending Cleaned articles waiting for the search backend to take them.",
        "# TYPE newsflow_index_pending gauge",
        f"newsflow_index_pending {rt.state.pending.count()}",
    ]
    # The metrics that matter most while the search backend is down must still be served.
    try:
        articles: int | None = rt.search.count()
    except TransientError as exc:
        log.warning("metrics: %s", exc)
        articles = None
    lines += [
        "# HELP newsflow_search_up 1 when the search backend answers, else 0.",
        "# TYPE newsflow_search_up gauge",
        f"newsflow_search_up {0 if articles is None else 1}",
    ]
    if articles is not None:
        lines += [
            "# HELP newsflow_articles Articles in the search index.",
            "# TYPE newsflow_articles gauge",
            f"newsflow_articles {articles}",
        ]
    lines += [
        "# HELP newsflow_events_total Pipeline events by kind (fetched, indexed, dropped:<reason>, ...).",
        "# TYPE newsflow_events_total counter",
    ]
    for name, value in sorted(rt.state.stats().items()):
        lines.append(f'newsflow_events_total{{event="{name}"}} {value}')
    return "\n".join(lines) + "\n"


def make_handler(rt: Runtime) -> type[BaseHTTPRequestHandler]:
    page = resources.files("workers").joinpath("static/search.html").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        server_version = "newsflow"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            try:
                if url.path == "/":
                    self._send(200, page, "text/html; charset=utf-8")
                elif url.path == "/api/search":
                    result = rt.search.search(parse_search(parse_qs(url.query)))
                    self._json(200, result.to_json())
                elif url.path.startswith("/api/articles/"):
                    art = rt.search.get(url.path.rsplit("/", 1)[1])
                    if art is None:
                        raise ApiError(404, "no article with that id")
                    self._json(200, art.to_doc())
                elif url.path == "/healthz":
                    rt.state.ping()
                    self._json(200, {"ok": True, "articles": rt.search.count()})
                elif url.path == "/metrics":
                    self._send(200, metrics_text(rt).encode(), "text/plain; version=0.0.4")
                else:
                    raise ApiError(404, f"no route {url.path}")
            except ApiError as exc:
                self._json(exc.status, {"error": str(exc)})
            except Exception:
                log.exception("GET %s failed", self.path)
                self._json(503, {"error": "the search backend or Redis did not answer; try again"})

        def _json(self, status: int, payload: Any) -> None:
            self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), fmt % args)

    return Handler


def make_server(rt: Runtime, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(rt))
    server.daemon_threads = True
    return server
