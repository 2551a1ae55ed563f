"""Politeness with real Celery worker processes: two workers together keep to one host's limits."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.stages import fetch_work
from tests.support import start_workers
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration
DELAY = 0.5  # seconds between two requests to one host, the limit under test


@pytest.fixture(scope="module")
def two_groups(data_dir: Path, embedded_redis: str) -> Iterator[list[WorkerGroup]]:
    """Two separate sets of worker processes, both running with a 0.5 s per-host delay."""
    env = {"NEWSFLOW_HOST_DELAY": str(DELAY), "NEWSFLOW_HOST_MAX_WAIT": "2"}
    groups = [start_workers(data_dir, embedded_redis, "polite-a", **env)]
    groups.append(start_workers(data_dir, embedded_redis, "polite-b", **env))
    yield groups
    for g in groups:
        g.stop()


class LoggingSite:
    """Pages whose every request is logged with its arrival time."""

    def __init__(self, n: int, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.log: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.status = status
        self.headers = headers or {}
        self.routes = {f"/news/{i}.html": self.page for i in range(n)} | {"/robots.txt": self.page}

    def page(self, h: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.log.append((time.time(), h.path))
            status = self.status if h.path != "/robots.txt" else 404
        words = " ".join(f"word{j}" for j in range(80))
        body = f"<html><head><title>{h.path}</title></head><body><article><h1>{h.path}</h1><p>{words}</p>"
        body = (body + "</article></body></html>").encode()
        h.send_response(status)
        for k, v in self.headers.items():
            if status != 200:
                h.send_header(k, v)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def _wait(group: list[WorkerGroup], rt: Runtime, timeout: float) -> None:
    assert wait_until_idle(rt, group[0], timeout), "work still queued"


def test_two_workers_never_exceed_a_hosts_rate(runtime: Runtime, two_groups: list[WorkerGroup], tmp_path: Path) -> None:
    """Twelve pages of one host fetched by two worker processes arrive at least the host delay apart."""
    site = LoggingSite(12)
    with SiteServer(tmp_path, routes=site.routes) as srv:
        for i in range(12):
            submit(runtime.state, [fetch_work(f"{srv.base}/news/{i}.html")])
        _wait(two_groups, runtime, 120)
    times = sorted(t for t, _ in site.log)
    assert {p for _, p in site.log} >= {f"/news/{i}.html" for i in range(12)}
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Slots are DELAY apart by the Redis clock; 50 ms allows for scheduling jitter between a slot and its arrival.
    assert min(gaps) >= DELAY - 0.05, gaps


def test_retry_after_respected_by_every_worker(runtime: Runtime, two_groups: list[WorkerGroup], tmp_path: Path) -> None:
    """After a 503 with Retry-After: 3, no worker asks the host again for 3 s; then the pages are fetched."""
    site = LoggingSite(6, status=503, headers={"Retry-After": "3"})
    with SiteServer(tmp_path, routes=site.routes) as srv:
        for i in range(6):
            submit(runtime.state, [fetch_work(f"{srv.base}/news/{i}.html")])
        deadline = time.monotonic() + 20
        while not [p for _, p in site.log if p.startswith("/news/")] and time.monotonic() < deadline:
            time.sleep(0.05)
        with site.lock:
            site.status = 200  # the server recovers; workers must still wait out the 3 s
        _wait(two_groups, runtime, 120)
    pages = [(t, p) for t, p in site.log if p.startswith("/news/")]
    first = pages[0][0]
    assert all(t >= first + 3 - 0.05 for t, _ in pages[1:]), [round(t - first, 2) for t, _ in pages]
    assert {p for _, p in pages} == {f"/news/{i}.html" for i in range(6)}
