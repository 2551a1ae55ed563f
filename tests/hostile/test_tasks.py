"""Hostile servers through real Celery workers: every one ends as a one-line dead letter, and the workers live on."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.stages import fetch_work
from tests.feeds.helpers import redirect
from tests.hostile.binaries import pdf, png
from tests.hostile.servers import Listener, drip_body, drip_headers, send
from tests.support import start_workers
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def quick_workers(data_dir: Path, embedded_redis: str) -> Iterator[WorkerGroup]:
    """Workers whose whole-request deadline is 2 s, so dripping servers are cut quickly."""
    group = start_workers(data_dir, embedded_redis, "hostile", NEWSFLOW_TOTAL_TIMEOUT="2", NEWSFLOW_READ_TIMEOUT="1")
    yield group
    group.stop()


def test_hostile_pages_become_one_line_dead_letters(
    runtime: Runtime, quick_workers: WorkerGroup, tmp_path: Path
) -> None:
    """Dripped headers or body, a forbidden address in odd spellings, a gzip bomb and a redirect loop are each
    dead-lettered with a one-line reason (no traceback), the forbidden listeners see no connection, and the
    workers are still alive."""
    routes = {
        "/drip-headers.html": drip_headers(every=0.1, seconds=60),
        "/drip-body.html": drip_body(every=0.1, seconds=60),
        "/bomb.html": send(gzip.compress(b"\0" * 50_000_000, 9), {"Content-Encoding": "gzip"}),
        "/loop-a.html": redirect("/loop-b.html"),
        "/loop-b.html": redirect("/loop-a.html"),
    }
    try:
        listener6: Listener | None = Listener("::1", socket.AF_INET6)
    except OSError:
        listener6 = None
    with (
        SiteServer(tmp_path, routes=routes) as srv,
        Listener("127.0.0.2") as forbidden,
        listener6 or Listener("127.0.0.1") as other,
    ):
        expected = {
            f"{srv.base}/drip-headers.html": "no complete answer within 2 s (total deadline)",
            f"{srv.base}/drip-body.html": "no complete answer within 2 s (total deadline)",
            f"{srv.base}/bomb.html": "byte limit",
            f"{srv.base}/loop-a.html": "redirect loop",
            f"http://0177.0.0.2:{forbidden.port}/a.html": "means 127.0.0.2",
            f"http://2130706434:{forbidden.port}/a.html": "means 127.0.0.2",
            f"http://[::ffff:127.0.0.2]:{forbidden.port}/a.html": "means 127.0.0.2",
        }
        if listener6 is not None:
            expected[f"http://[::1]:{other.port}/a.html"] = "::1 is a private, loopback or reserved address"
        submit(runtime.state, [fetch_work(url) for url in expected])
        assert wait_until_idle(runtime, quick_workers, 120), "work still queued"
        assert forbidden.connections == 0 and other.connections == 0
    errors = {letter.args[0]: letter.error for letter in runtime.state.dead.entries()}
    for url, reason in expected.items():
        assert url in errors, f"{url} was not dead-lettered"
        assert reason in errors[url], errors[url]
        assert "\n" not in errors[url] and "Traceback" not in errors[url]
    assert quick_workers.alive()


def test_binary_bodies_served_as_html_are_dropped_as_not_html(
    runtime: Runtime, quick_workers: WorkerGroup, tmp_path: Path
) -> None:
    """A PDF and a PNG served as text/html are dropped and counted under `not_html` (what
    `status` and /metrics show), not indexed and not dead-lettered; the workers live on."""
    routes = {"/report.html": send(pdf(), {}), "/photo.html": send(png(), {"Content-Type": "text/html; charset=utf-8"})}
    with SiteServer(tmp_path, routes=routes) as srv:
        urls = [f"{srv.base}/report.html", f"{srv.base}/photo.html"]
        submit(runtime.state, [fetch_work(url) for url in urls])
        assert wait_until_idle(runtime, quick_workers, 120), "work still queued"
    stats = runtime.state.stats()
    assert stats.get("dropped:not_html") == 2, stats
    assert runtime.state.pending.count() == 0
    assert [a.url for a in runtime.search.iter_all() if a.url in urls] == []
    assert runtime.state.dead.count() == 0
    assert quick_workers.alive()
