"""The HTTP search API, the search page, health and Prometheus metrics (FastAPI on uvicorn).

Routes (each answers GET and HEAD; the schema is at /openapi.json):
  GET /                     the search page; its script and style under /static/
  GET /docs, /redoc         the schema browsable in Swagger UI and ReDoc; their files under
                            /docs-assets/, installed with the fastapi-offline package (no CDN)
  GET /api/search?q=...     JSON results: q (with the query syntax of pipeline.search.query), site,
                            language, since, until, limit, cursor, all=1, cluster (the copies of one
                            story), sort=relevance|date; facets count sites, languages and days
  GET /api/articles/{id}    one article document
  GET /healthz              200 when Redis and the search backend answer, else 503
  GET /metrics              Prometheus text format: queues, counters, index size, articles waiting
                            to be indexed, whether the search backend answers (served while it is down),
                            the workers' histograms and each route's request latency (at zero from the start)

Every error answers `{"error": "<what failed and what to do>"}` with its status: 400 for a bad
parameter, 404 for an unknown article or route, 503 when Redis or the search backend does not
answer. `serve()` is the one blocking entry; `make_server()` gives tests a server to run in a thread.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from functools import partial
from importlib import resources
from typing import Annotated, Any, Literal

import uvicorn
from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.errors import TransientError
from pipeline.models import Article, as_utc
from pipeline.search.base import SearchHit, SearchQuery
from pipeline.state import OUTAGE_ERRORS
from workers import metrics
from workers.logs import configure_logging
from workers.runtime import Runtime

log = logging.getLogger("newsflow.api")
# Redis or the search backend away for now: a 503 with one line, no traceback.
AWAY: tuple[type[Exception], ...] = (TransientError, *OUTAGE_ERRORS)
MAX_LIMIT = 100
DOCS_ASSETS = "/docs-assets"  # Swagger UI's and ReDoc's files, from the fastapi-offline package
# The docs pages may load nothing from another host: ReDoc's bundle still shows a logo from its
# vendor's CDN, which the browser now refuses without asking (the page hides a logo that fails).
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:"
)
UNAVAILABLE = "the search backend or Redis did not answer; try again"
QUERY_SYNTAX = (
    "Words to find, all of them; accents optional. Empty: every article. "
    '"exact phrase": the words in this order; -word or -"a phrase": leave out what has it; '
    "a OR b: either; site:example.org and lang:vi: as the site and language filters."
)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ErrorAnswer(BaseModel):
    """What went wrong."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    error: str
    """What failed, and what to do."""


class SearchAnswer(BaseModel):
    """One page of results, as `SearchPage.to_json()` writes it."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    total: int
    """Matching articles; stories, when near-duplicates collapse (the default)."""
    hits: list[SearchHit]
    """This page's hits, best first (or newest, by date)."""
    next_cursor: list[Any] | None = None
    """Give it back as `cursor`, in JSON, for the next page; null when no more can follow."""
    facets: dict[str, dict[str, int]] = {}
    """Matching stories counted by site, by language and by day."""


class Health(BaseModel):
    """Redis and the search backend answer."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    ok: bool
    articles: int
    """Articles in the index."""


def parse_date(name: str, value: str | None) -> datetime | None:
    """An ISO 8601 date or datetime parameter as UTC; ApiError(400) when it is not one."""
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ApiError(400, f"{name}={value!r} is not a date (YYYY-MM-DD or ISO 8601)") from None


def parse_cursor(value: str | None) -> list[Any] | None:
    """The `next_cursor` of a previous answer, sent back as JSON; ApiError(400) otherwise."""
    if not value:
        return None
    try:
        cursor = json.loads(value)
    except ValueError:
        cursor = None
    if not isinstance(cursor, list):
        raise ApiError(400, "cursor must be the next_cursor value of a previous answer")
    return cursor


def metrics_text(rt: Runtime) -> str:
    """What /metrics answers, for `rt`: Redis' numbers, the workers' files, this process."""
    return metrics.exposition(metrics.api_registry(rt))[0].decode()


class _GuardedRoute(APIRoute):
    """A route whose failures answer JSON: ApiError with its status, anything else 503.

    Redis or the search backend being away is the expected failure of every route; it must
    answer a clear 503, never a bare 500, and never take the server down.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        path = self.path

        async def guarded(request: Request) -> Response:
            started = time.perf_counter()
            try:
                return await _answer(request)
            finally:
                latency = getattr(request.app.state, "request_latency", None)
                if latency is not None:
                    latency.labels(path).observe(time.perf_counter() - started)

        async def _answer(request: Request) -> Response:
            try:
                return await handler(request)
            except (StarletteHTTPException, RequestValidationError):
                raise
            except ApiError as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            except ValueError as exc:  # a backend refusing a query it cannot answer (a foreign cursor)
                return JSONResponse({"error": str(exc)}, status_code=400)
            except AWAY as exc:  # away for now: one line says which, no traceback
                log.warning("%s %s: %s", request.method, request.url.path, exc)
                return JSONResponse({"error": UNAVAILABLE}, status_code=503)
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                return JSONResponse({"error": UNAVAILABLE}, status_code=503)

        return guarded


def create_app(rt: Runtime) -> FastAPI:
    """The ASGI application serving `rt`'s search backend and Redis."""
    app = FastAPI(
        title="newsflow",
        summary="Search clean, deduplicated news articles; health and Prometheus metrics.",
        version="0.1.0",
        docs_url=None,  # FastAPI's own pages load their scripts from a CDN; add_docs serves them here
        redoc_url=None,
    )
    app.router.route_class = _GuardedRoute
    static = resources.files("workers").joinpath("static")
    page = static.joinpath("search.html").read_text(encoding="utf-8")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    errors: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorAnswer, "description": "A parameter is not valid; the message says which."},
        503: {"model": ErrorAnswer, "description": "Redis or the search backend did not answer."},
    }

    route = partial(get_and_head, app)
    add_docs(app)

    @route("/", response_class=HTMLResponse, summary="The search page")
    def search_page() -> HTMLResponse:
        return HTMLResponse(page)

    @route("/api/search", response_model=SearchAnswer, responses=errors, summary="Full-text search")
    def search(
        q: Annotated[str, Query(description=QUERY_SYNTAX)] = "",
        site: Annotated[str | None, Query(description="Only this site.")] = None,
        language: Annotated[str | None, Query(description="Only this language code (en, vi, ...).")] = None,
        since: Annotated[str | None, Query(description="Published on or after (YYYY-MM-DD or ISO 8601).")] = None,
        until: Annotated[str | None, Query(description="Published before (YYYY-MM-DD or ISO 8601).")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Hits per page.")] = 10,
        cursor: Annotated[str | None, Query(description="The next_cursor of the previous page, as JSON.")] = None,
        all: Annotated[bool, Query(description="Every member of a duplicate cluster, not one per cluster.")] = False,
        cluster: Annotated[str | None, Query(description="Only the copies of one story (a hit's cluster_id).")] = None,
        sort: Annotated[
            Literal["relevance", "date"],
            Query(description="relevance (text score, recent news gently first; no words: newest first) or date."),
        ] = "relevance",
    ) -> dict[str, Any]:
        query = SearchQuery(
            text=q,
            site=site or None,
            language=language or None,
            since=parse_date("since", since),
            until=parse_date("until", until),
            limit=limit,
            collapse=not all,
            search_after=parse_cursor(cursor),
            facets=True,
            cluster=cluster or None,
            sort=sort,
        )
        return rt.search.search(query).to_json()

    missing = {404: {"model": ErrorAnswer, "description": "No article has this id."}}

    @route("/api/articles/{doc_id}", response_model=Article, responses={**errors, **missing}, summary="One article")
    def article(doc_id: str) -> Article:
        found = rt.search.get(doc_id)
        if found is None:
            raise ApiError(404, f"no article with id {doc_id!r}")
        return found

    @route("/healthz", response_model=Health, responses=errors, summary="Redis and the search backend answer")
    def healthz() -> Health:
        rt.state.ping()
        return Health(ok=True, articles=rt.search.count())

    registry = metrics.api_registry(rt)

    @route("/metrics", response_class=Response, summary="Prometheus metrics")
    def prometheus_metrics() -> Response:
        body, content_type = metrics.exposition(registry)
        return Response(body, headers={"Content-Type": content_type})

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{err['loc'][-1]}={err.get('input')!r}: {err['msg']}" if err.get("input") is not None else err["msg"]
            for err in exc.errors()
        )
        return JSONResponse({"error": f"{request.url.path}: {problems}"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = f"no route {request.url.path}" if exc.status_code == 404 else str(exc.detail)
        headers = exc.headers
        if exc.status_code == 405:  # every route answers both (`get_and_head`): the first match names only its own
            headers = {**(headers or {}), "Allow": "GET, HEAD"}
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=headers)

    # Every route's latency histogram is there from the start, at zero.
    routes = sorted({r.path for r in app.routes if isinstance(r, APIRoute)})
    app.state.request_latency = metrics.request_latency(registry, routes)
    schema_as_answered(app)
    return app


def schema_as_answered(app: FastAPI) -> None:
    """The schema without FastAPI's 422 answers: a bad parameter answers 400 here (`bad_parameter`),
    which the routes' `responses` already document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            models = schema.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                models.pop(unused, None)
        return app.openapi_schema  # type: ignore[return-value]  # set by generate()

    app.openapi = openapi  # type: ignore[method-assign]


def get_and_head(app: FastAPI, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register GET (in the schema unless told) and HEAD beside it (uvicorn sends HEAD answers without a body)."""

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        app.add_api_route(path, endpoint, methods=["GET"], **kwargs)
        app.add_api_route(path, endpoint, methods=["HEAD"], **{**kwargs, "include_in_schema": False})
        return endpoint

    return register


def add_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc over the app's schema, their scripts served by the app itself,
    so the pages work on a machine without internet."""
    assets = resources.files("fastapi_offline").joinpath("static")
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    shared: dict[str, Any] = {"openapi_url": app.openapi_url or "/openapi.json", "title": f"{app.title} API"}
    icon = f"{DOCS_ASSETS}/favicon.png"
    swagger = get_swagger_ui_html(
        **shared,
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=icon,
    )
    # with_google_fonts=False: the fonts would come from Google; ReDoc falls back to the system's.
    redoc = get_redoc_html(
        **shared, redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js", redoc_favicon_url=icon, with_google_fonts=False
    )
    for path, page in (("/docs", swagger.body), ("/redoc", redoc.body)):
        get_and_head(app, path, response_class=HTMLResponse, include_in_schema=False)(html_page(bytes(page)))


def html_page(body: bytes) -> Callable[[], HTMLResponse]:
    """An endpoint that answers the same docs page every time, under DOCS_POLICY."""
    return lambda: HTMLResponse(body, headers={"Content-Security-Policy": DOCS_POLICY})


def make_server(rt: Runtime, host: str = "127.0.0.1", port: int = 8000) -> uvicorn.Server:
    """A uvicorn server for `rt`; `.run()` blocks, `.should_exit = True` stops it."""
    config = uvicorn.Config(
        create_app(rt),
        host=host,
        port=port,
        log_config=None,  # logging is the entrypoint's to configure; uvicorn logs through it
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


def serve(rt: Runtime, host: str, port: int, sock: socket.socket | None = None) -> None:
    """Serve the API until SIGINT or SIGTERM (uvicorn finishes the requests in progress).

    `sock`: an already bound listening socket to serve on (tests pass one on a free port).
    """
    root = logging.getLogger()
    # A service logs its requests: INFO at least, DEBUG when the caller asked for it.
    configure_logging(rt.settings.log_format, min(root.level or logging.INFO, logging.INFO))
    server = make_server(rt, host, port)
    in_main = threading.current_thread() is threading.main_thread()
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the handler
    # it found. Python's default would kill the process before the caller closes its Runtime
    # (an embedded Redis left running); SystemExit unwinds through the caller's `finally`.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if in_main else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        # asyncio sets TCP_NODELAY itself only on sockets made with IPPROTO_TCP named; without
        # it each answer waits ~40 ms for a delayed ACK (uvicorn writes head and body apart).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        server.run(sockets=[sock] if sock is not None else None)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    # uvicorn has finished the requests in progress: a server asked to stop has done its job.
    raise SystemExit(0)
