"""At-least-once delivery: a worker killed in the middle of a task loses nothing."""

from __future__ import annotations

import signal
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.stages import fetch_work
from tests.support import SITES, docs_under, start_workers
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle

pytestmark = pytest.mark.integration


def _slow_once(release: threading.Event, hits: list[str]):
    def handler(h: BaseHTTPRequestHandler) -> None:
        hits.append(h.path)
        if len(hits) == 1:
            release.wait(30)  # the worker that took this request is killed meanwhile
        body = (SITES / "courier/news/2025/03/orchard-growers-count-frost-damage.html").read_bytes()
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handler


def test_worker_killed_mid_task_loses_nothing(runtime: Runtime, data_dir: Path, embedded_redis: str) -> None:
    """SIGKILL of a worker holding a fetch: the task is delivered again, the article indexed once."""
    release = threading.Event()
    hits: list[str] = []
    with SiteServer(SITES / "courier", routes={"/slow.html": _slow_once(release, hits)}) as server:
        group = start_workers(data_dir, embedded_redis, "doomed", NEWSFLOW_VISIBILITY_TIMEOUT="3")
        try:
            submit(runtime.state, [fetch_work(f"{server.base}/slow.html")])
            deadline = time.monotonic() + 30
            while not hits and time.monotonic() < deadline:
                time.sleep(0.05)
            assert hits, "the fetch never reached the server"
            for proc in group.procs:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        finally:
            group.stop()
        release.set()
        survivor = start_workers(data_dir, embedded_redis, "survivor", NEWSFLOW_VISIBILITY_TIMEOUT="3")
        try:
            assert wait_until_idle(runtime, survivor, 90)
        finally:
            survivor.stop()
        docs = docs_under(runtime, server.base)
        assert len(docs) == 1
        assert docs[0].title == "Orchard growers count frost damage"
        assert len(hits) >= 2
