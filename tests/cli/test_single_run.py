"""One `newsflow run` per data directory, and a run's whole tree dies with it, SIGKILL included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.cli.helpers import newsflow, newsflow_env, redis_servers_of, start_newsflow, wait_for, workers_of

pytestmark = pytest.mark.integration
EX_TEMPFAIL = 75


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait for ever for a reaper)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def descendants(root: int) -> set[int]:
    """Every process below `root` (children, their pool children, the Redis keeper's server)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


@contextmanager
def running_service(data: Path, feeds: Path) -> Iterator[subprocess.Popen[str]]:
    """`newsflow run` (the service, with its scheduler) started, its workers up."""
    proc = start_newsflow(["run", "--feeds", str(feeds)], data)
    try:
        assert proc.stderr is not None
        wait_for(lambda: "running" in proc.stderr.readline() or proc.poll() is not None, what="run started")
        assert proc.poll() is None, "run exited at start"
        # Two workers, the process worker's pool (a process per core), and the scheduler.
        expected = 3 + (os.cpu_count() or 1)
        wait_for(lambda: len(workers_of(data)) >= expected, 90, "workers, pool and scheduler started")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture
def no_feeds(tmp_path: Path) -> Path:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    return feeds


def test_a_sigkilled_run_leaves_no_process_behind(tmp_path: Path, no_feeds: Path) -> None:
    """SIGKILL on `run`: its workers, their pool children, the scheduler, the embedded Redis
    and its keeper are all gone 5 s later."""
    data = tmp_path / "data"
    with running_service(data, no_feeds) as proc:
        tree = descendants(proc.pid)
        servers = redis_servers_of(tmp_path)
        assert servers and set(servers) <= tree, "the embedded Redis should be in run's tree"
        assert set(workers_of(data)) <= tree
        proc.kill()
        proc.wait(30)
        deadline = time.monotonic() + 5.0
        while any(running(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in tree if running(pid)] == []
    assert workers_of(data) == [] and redis_servers_of(tmp_path) == []


def test_a_second_run_on_one_data_directory_is_refused(tmp_path: Path, no_feeds: Path) -> None:
    """While one `run` lives, another on its data directory exits 75 with one line naming the
    first one's pid, and starts nothing; once the first ended, a run goes ahead."""
    data = tmp_path / "data"
    with running_service(data, no_feeds) as first:
        before = sorted(workers_of(data))
        second = newsflow(["run", "--feeds", str(no_feeds), "--once", "--timeout", "60"], data)
        assert second.returncode == EX_TEMPFAIL, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pid {first.pid}" in lines[0], second.stderr
        assert sorted(workers_of(data)) == before
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0
    again = newsflow(["run", "--feeds", str(no_feeds), "--once", "--timeout", "60"], data)
    assert again.returncode == 0, again.stderr


def test_the_next_run_ends_what_a_dead_run_left(tmp_path: Path, no_feeds: Path) -> None:
    """Processes of the groups a dead run recorded that still work for its data directory are
    ended by the next run before it starts; an unrelated process is left alone."""
    data = tmp_path / "data"
    data.mkdir()
    sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
    left = subprocess.Popen(sleep, env=newsflow_env(data), start_new_session=True)
    stranger = subprocess.Popen(sleep, env=newsflow_env(tmp_path / "elsewhere"), start_new_session=True)
    try:
        (data / "run.children").write_text(f"{left.pid}\n{stranger.pid}\n")
        done = newsflow(["run", "--feeds", str(no_feeds), "--once", "--timeout", "60"], data)
        assert done.returncode == 0, done.stderr
        assert f"pids {left.pid})" in done.stderr
        assert left.wait(10) == -signal.SIGKILL
        assert stranger.poll() is None
        assert not (data / "run.children").exists()
    finally:
        for proc in (left, stranger):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_second_demo_stops_and_removes_nothing_of_the_first(tmp_path: Path) -> None:
    """`newsflow demo` empties `<data dir>/demo` only once it holds the demo lock: a second demo
    while one runs is told so (exit 75) and the first one's files stay."""
    from workers.runlock import DemoDirectory

    with DemoDirectory(tmp_path / "demo") as demo_dir:
        kept = demo_dir / "index.tantivy" / "meta.json"
        kept.parent.mkdir()
        kept.write_text("{}")
        second = newsflow(["demo"], tmp_path)
        assert second.returncode == EX_TEMPFAIL, second.stderr
        assert f"another `newsflow demo` (pid {os.getpid()}) is running" in second.stderr
        assert kept.read_text() == "{}"


def test_a_demo_leaves_the_last_demos_data_alone_while_a_command_uses_it(tmp_path: Path) -> None:
    """A search still open on the last demo's data (its embedded Redis in use): a new demo
    stops with exit 75 and removes nothing; once the search is done, the demo starts afresh,
    every file of the old one gone but the run lock."""
    from workers.embedded import EmbeddedRedis
    from workers.runlock import LOCK_FILE, DemoDirectory

    demo_dir = tmp_path / "demo"
    old = demo_dir / "raw" / "old-page.html"
    old.parent.mkdir(parents=True)
    old.write_text("<p>from the last demo</p>")
    with EmbeddedRedis(demo_dir):
        busy = newsflow(["demo"], tmp_path)
        assert busy.returncode == EX_TEMPFAIL, busy.stderr
        assert f"another newsflow process (a search, status or serve) uses {demo_dir}" in busy.stderr
        assert old.exists() and (demo_dir / "redis").is_dir()
    assert redis_servers_of(demo_dir) == []
    with DemoDirectory(demo_dir):
        assert [p.name for p in demo_dir.iterdir()] == [LOCK_FILE]


def test_the_next_run_puts_back_at_once_what_a_killed_run_was_fetching(tmp_path: Path) -> None:
    """SIGKILL on `run --once` while its worker waits on a page: the next run puts that page
    back on the queue as it starts, rather than when the work lease (300 s) runs out, and
    indexes it well within its own 90 s."""
    from demo.server import SiteServer

    answer = threading.Event()

    def slow_page(handler: BaseHTTPRequestHandler) -> None:
        answer.wait(60)
        body = (
            "<html><head><title>Night ferry returns</title></head><body><article><h1>Night ferry returns</h1>"
            + "<p>The night ferry to the outer islands sails again from Monday, the port said.</p>" * 6
            + "</article></body></html>"
        ).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    site = tmp_path / "site"
    site.mkdir()
    (site / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Port</title><link>{{BASE}}/</link>'
        "<item><title>Night ferry returns</title><link>{{BASE}}/news/night-ferry-returns.html</link></item>"
        "</channel></rss>"
    )
    data = tmp_path / "data"
    with SiteServer(site, routes={"/news/night-ferry-returns.html": slow_page}) as server:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {server.base}/feed.xml\n")
        first = start_newsflow(["run", "--feeds", str(feeds), "--once", "--timeout", "120"], data)
        try:
            wait_for(lambda: "/news/night-ferry-returns.html" in server.requests, 90, "the page asked for")
            first.kill()
            first.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
            if first.stderr:
                first.stderr.close()
        wait_for(lambda: workers_of(data) == [], 30, "the killed run's workers gone")
        answer.set()
        again = newsflow(["run", "--feeds", str(feeds), "--once", "--timeout", "90"], data, timeout=180)
    assert again.returncode == 0, again.stderr
    assert "put back on their queues" in again.stderr
    assert "articles indexed:  1 new (index holds 1;" in again.stdout, again.stdout
