"""`newsflow run` as a service: the scheduler polls the feeds, workers ingest, SIGTERM stops all."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults import harness

pytestmark = pytest.mark.integration


def test_run_polls_on_schedule_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """Without --once, beat schedules the polls: every article lands; SIGTERM ends the run and its children."""
    env = harness.base_env(tmp_path / "data")
    with harness.serve(harness.make_sites(2, 12)) as sites:
        feeds = harness.write_feeds(sites, tmp_path / "feeds.yaml")
        proc = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "run", "--feeds", str(feeds)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            urls: list[str] = []
            while time.monotonic() < deadline and len(urls) < 12:
                time.sleep(1.0)
                export = harness.newsflow(["export"], env)
                urls = [json.loads(line)["url"] for line in export.stdout.splitlines() if line.strip()]
            assert len(urls) == 12 and len(set(urls)) == 12
            kids = harness.children(proc.pid)
            assert len(kids) >= 3  # the I/O worker, the cleaning worker, the scheduler
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr[-2000:]
        assert all(not Path(f"/proc/{pid}").exists() for pid in kids), "a worker outlived `run`"
