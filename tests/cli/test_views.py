"""What an operator sees on a terminal (rich tables, progress bars, the live status) and in a pipe.

The commands run as subprocesses; "a terminal" is a pseudo-terminal (python's `pty`), read back
with the colours stripped.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline import scheduling
from pipeline.feeds import FeedConfig
from pipeline.stages import fetch_work
from tests.faults import harness
from tests.support import SITES
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class Terminal:
    """A command on a pseudo-terminal 160 columns wide; what it printed, colours stripped."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.fd, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 160, 0, 0))
        env = {**env, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "60"}
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", *args], env=env, stdin=child, stdout=child, stderr=child
        )
        os.close(child)
        self.raw = b""

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def read_until(self, done: Callable[[str], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done(self.text):
                return True
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the command ended and closed its side
                    chunk = b""
                if not chunk and self.proc.poll() is not None:
                    return done(self.text)
                self.raw += chunk
        return done(self.text)

    def finish(self, timeout: float = 180) -> int:
        self.read_until(lambda _: self.proc.poll() is not None, timeout)
        self.read_until(lambda _: False, 0.5)  # what is left in the buffer
        os.close(self.fd)
        return self.proc.wait(timeout=10)


def on_terminal(args: list[str], env: dict[str, str], timeout: float = 180) -> str:
    term = Terminal(args, env)
    code = term.finish(timeout)
    assert code == 0, term.text
    return term.text


def in_pipe(args: list[str], env: dict[str, str]) -> str:
    done = harness.newsflow(args, env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def operated(runtime: Runtime, workers: WorkerGroup) -> dict[str, str]:
    """A pipeline holding one registered feed and one dead letter (a page that answered 404),
    and the environment of a command that works on it."""

    def gone(h: BaseHTTPRequestHandler) -> None:
        h.send_response(404)
        h.send_header("Content-Length", "4")
        h.end_headers()
        h.wfile.write(b"gone")

    with SiteServer(SITES / "courier", routes={"/gone.html": gone}) as server:
        scheduling.register_feeds(
            runtime.state, [FeedConfig(url=f"{server.base}/feed.xml", site="courier-views")], time.time()
        )
        submit(runtime.state, [fetch_work(f"{server.base}/gone.html")])
        assert wait_until_idle(runtime, workers, 60)
        assert runtime.state.dead.count() == 1
        return harness.base_env(Path(runtime.settings.data_dir), REDIS_URL=runtime.redis_url) | {
            "FEED_URL": f"{server.base}/feed.xml",
            "GONE_URL": f"{server.base}/gone.html",
        }


def test_tables_on_a_terminal_and_plain_lines_in_a_pipe(operated: dict[str, str]) -> None:
    """On a terminal `feeds list`, `dead-letters` and `status` draw tables holding the feed, the
    dead letter's URL and error and the counts; in a pipe they print the plain lines scripts read."""
    feeds = on_terminal(["feeds", "list"], operated)
    assert "Feeds" in feeds and "│" in feeds  # a drawn table
    row = next(line for line in feeds.splitlines() if operated["FEED_URL"] in line)
    assert "courier-views" in row and "new" in row
    assert re.search(r"\bhealth\b.*\bsite\b.*\burl\b", feeds)

    dead = on_terminal(["dead-letters"], operated)
    assert "Dead letters" in dead and "1 dead letter(s)" in dead
    row = next(line for line in dead.splitlines() if operated["GONE_URL"][:60] in line)
    assert "fetch" in row and "404" in dead

    status = on_terminal(["status"], operated)
    assert "newsflow status" in status
    assert re.search(r"dead letters\s*│\s*1\b", status)
    assert re.search(r"worker restarts\s*│\s*\d+", status)
    assert operated["FEED_URL"] in status

    plain = in_pipe(["status"], operated)
    assert "│" not in plain
    assert re.search(r"dead letters: 1\b", plain) and "worker restarts:" in plain and "Redis outages:" in plain
    assert f"[new] {operated['FEED_URL']}" in plain
    plain_dead = in_pipe(["dead-letters"], operated)
    assert "1 dead letter(s)" in plain_dead and "404" in plain_dead and "│" not in plain_dead


def test_status_watch_refreshes_in_place_until_ctrl_c(operated: dict[str, str]) -> None:
    """`status --watch` draws the status, draws it again about every 2 s, and exits 0 on Ctrl-C."""
    term = Terminal(["status", "--watch"], operated)
    try:
        assert term.read_until(lambda text: text.count("newsflow status") >= 3, timeout=60), term.text
        # In place: the cursor goes back up over the previous drawing instead of scrolling on.
        assert re.search(rb"\x1b\[\d*A", term.raw), term.raw[-400:]
        term.proc.send_signal(signal.SIGINT)
        assert term.finish(30) == 0, term.text
    finally:
        if term.proc.poll() is None:
            term.proc.kill()


def test_run_once_shows_progress_bars_on_a_terminal(tmp_path: Path) -> None:
    """`run --once` on a terminal shows a bar per stage that ends at the totals, then the summary."""
    with SiteServer(SITES / "courier") as server:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - url: {server.base}/feed.xml\n    site: courier\n")
        env = harness.base_env(tmp_path / "data")
        text = on_terminal(["run", "--feeds", str(feeds), "--once", "--timeout", "120"], env, timeout=240)
    fetched = int(re.search(r"pages fetched:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    assert fetched > 0
    assert re.search(r"feeds polled\s.*\b1/1\b", text), text
    assert re.search(rf"fetched\s.*\b{fetched}/{fetched}\b", text), text
    assert re.search(rf"cleaned\s.*\b{fetched}/{fetched}\b", text), text
    indexed = re.search(r"indexed\s.*\b(\d+)/(\d+)\b", text.rsplit("feeds polled ", 1)[-1])
    assert indexed and int(indexed.group(1)) == int(indexed.group(2)) >= fetched, text
    assert "feeds polled:      1 of 1" in text  # the summary, as in a pipe
