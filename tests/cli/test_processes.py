"""A command that starts the embedded Redis stops it when it ends, however it ends; processes
on one data directory share one server, and the last to leave stops it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cli.helpers import NEWSFLOW, newsflow, newsflow_env, redis_servers_of, start_newsflow, wait_for, workers_of
from tests.search.noida import free_port

pytestmark = pytest.mark.integration


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        return resp.read().decode()


@contextmanager
def serving(data_dir: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`newsflow serve` on a free port, answering /metrics (which needs Redis)."""
    port = free_port()
    proc = start_newsflow(["serve", "--port", str(port)], data_dir)
    try:

        def answers() -> bool:
            try:
                return "newsflow_queue_depth" in metrics(port)
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                return False

        wait_for(answers, what="serve answering /metrics")
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        if proc.stderr:
            proc.stderr.close()


@pytest.mark.parametrize("command", [["status"], ["feeds", "list"], ["dead-letters"], ["status", "--json"]])
def test_read_commands_leave_no_redis_behind(tmp_path: Path, command: list[str]) -> None:
    """Each run of a command that needs Redis stops the server it started (every time)."""
    for _ in range(2):
        done = newsflow(command, tmp_path)
        assert done.returncode == 0, done.stderr
        assert redis_servers_of(tmp_path) == []


def test_run_once_leaves_no_redis_behind(tmp_path: Path) -> None:
    """`run --once` stops its workers and then the embedded Redis."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    done = newsflow(["run", "--feeds", str(feeds), "--once", "--timeout", "60"], tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert "feeds polled:      0 of 0" in done.stdout
    assert "no feed to poll" in done.stderr and "newsflow feeds add URL" in done.stderr
    assert redis_servers_of(tmp_path) == []


def test_run_stopped_by_sigterm_leaves_no_redis_behind(tmp_path: Path) -> None:
    """`run` (the long-running service) stopped the way a service manager stops it."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    proc = start_newsflow(["run", "--feeds", str(feeds)], tmp_path / "data")
    try:
        assert proc.stderr is not None
        wait_for(lambda: "running" in proc.stderr.readline() or proc.poll() is not None, what="run started")
        assert redis_servers_of(tmp_path), "run should have started the embedded Redis"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert redis_servers_of(tmp_path) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stopped_by_a_signal_leaves_no_redis_behind(tmp_path: Path, signum: int) -> None:
    """serve stopped by SIGTERM or Ctrl-C exits 0 and stops the Redis it started."""
    with serving(tmp_path) as (proc, _port):
        assert len(redis_servers_of(tmp_path)) == 1
        proc.send_signal(signum)
        assert proc.wait(30) == 0
    assert redis_servers_of(tmp_path) == []


def test_processes_share_one_server_and_the_last_one_stops_it(tmp_path: Path) -> None:
    """`status` while `serve` runs reuses serve's Redis and leaves it running; serve still
    answers; when serve stops, the server goes."""
    with serving(tmp_path) as (proc, port):
        server = redis_servers_of(tmp_path)
        assert len(server) == 1
        status = newsflow(["status", "--json"], tmp_path)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["redis"] == "embedded"
        assert redis_servers_of(tmp_path) == server
        assert "newsflow_queue_depth" in metrics(port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert redis_servers_of(tmp_path) == []


def test_a_server_whose_last_user_was_killed_stops_and_keeps_its_data(tmp_path: Path) -> None:
    """SIGKILL runs no clean-up in the command, but the server's keeper sees its last user
    gone and stops it (Redis writes its files); the next command finds the data."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - url: http://127.0.0.1:9/feed.xml\n")
    assert newsflow(["feeds", "load", str(feeds)], tmp_path).returncode == 0
    with serving(tmp_path) as (proc, _port):
        assert len(redis_servers_of(tmp_path)) == 1
        proc.kill()
        proc.wait(30)
    wait_for(lambda: redis_servers_of(tmp_path) == [], 30, "the server stopped by its keeper")
    listed = newsflow(["feeds", "list", "--json"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [f["url"] for f in json.loads(listed.stdout)] == ["http://127.0.0.1:9/feed.xml"]
    assert redis_servers_of(tmp_path) == []


def test_run_once_interrupted_twice_still_stops_workers_then_redis(tmp_path: Path) -> None:
    """SIGTERM during `run --once` unwinds; a second one does not cut the clean-up short."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n")
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [NEWSFLOW, "run", "--feeds", str(feeds), "--once", "--timeout", "120"],
        env=newsflow_env(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(workers_of(data)) >= 2 or proc.poll() is not None, what="workers started")
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) in {0, 128 + signal.SIGTERM}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert workers_of(data) == []
    assert redis_servers_of(tmp_path) == []


def test_serve_stops_at_start_with_one_line_when_it_cannot_serve(tmp_path: Path) -> None:
    """A port already in use, or a data directory the embedded Redis cannot live in: `serve`
    says why in one line and exits 1, before it claims to serve and leaving no Redis behind."""
    with serving(tmp_path / "first") as (_, port):
        taken = newsflow(["serve", "--port", str(port)], tmp_path / "second")
    assert taken.returncode == 1, taken.stderr
    assert taken.stderr.startswith(f"newsflow: serve: cannot listen on 127.0.0.1 port {port}: ")
    assert "serving" not in taken.stderr and "Traceback" not in taken.stderr
    assert redis_servers_of(tmp_path / "second") == []

    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    unusable = newsflow(["serve", "--port", "0"], not_a_directory)
    assert unusable.returncode == 1, unusable.stderr
    assert len(unusable.stderr.strip().splitlines()) == 1 and "serving" not in unusable.stderr
    assert str(not_a_directory) in unusable.stderr
