"""Nothing is lost, nothing indexed twice, when `newsflow import` or one of its workers is SIGKILLed.

An archive of 240 distinct articles (six synthetic sites, pages written by the harness) is
imported against a redis-server of the test's own (append-only); a small `--window` keeps
the import reading while the workers clean, so the kill lands mid-file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.faults import harness

pytestmark = pytest.mark.integration
ARTICLES = 240
SITES = 6


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    sites = harness.make_sites(SITES, ARTICLES)
    for i, site in enumerate(sites):
        site.base = f"http://site{i}.example"
    path = tmp_path / "crawl.warc.gz"
    harness.write_archive(sites, path)
    return path


def read_state(env: dict[str, str]) -> tuple[dict[str, int], list[dict[str, str]]]:
    """The counters and the imports, or nothing while Redis does not answer."""
    try:
        store = harness.open_state(env)
        try:
            return store.stats(), store.imports.all()
        finally:
            store.close()
    except Exception:
        return {}, []


def wait_until(proc: subprocess.Popen[str], env: dict[str, str], test: object, timeout: float = 240) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        stats, imports = read_state(env)
        if test(stats, imports):  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def start_import(archive: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "workers.cli", "import", str(archive), "--window", "20", "--timeout", "400"]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def sample_open_pages(proc: subprocess.Popen[str], env: dict[str, str]) -> list[int]:
    """How many of the import's pages are in the ledger, sampled while it runs (a thread)."""
    seen: list[int] = [0]

    def sample() -> None:
        store = harness.open_state(env)
        try:
            while proc.poll() is None:
                with contextlib.suppress(Exception):
                    for state in store.imports.all():
                        seen.append(len(store.imports.open_work_of(state["id"])))
                time.sleep(0.05)
        finally:
            store.close()

    threading.Thread(target=sample, daemon=True).start()
    return seen


def check_everything_once(env: dict[str, str]) -> None:
    export = harness.newsflow(["export"], env)
    urls = [json.loads(line)["url"] for line in export.stdout.splitlines() if line.strip()]
    assert len(urls) == ARTICLES, f"{ARTICLES - len(set(urls))} lost"
    assert len(set(urls)) == ARTICLES, "an article indexed twice"
    store = harness.open_state(env)
    try:
        assert store.work.counts().total == 0, "work left open in the ledger"
        assert store.broker.in_flight() == 0, "messages left unacknowledged"
        assert store.dead.count() == 0
        (state,) = store.imports.all()
        assert state["state"] == "done" and int(state["queued"]) == ARTICLES
    finally:
        store.close()


def test_import_killed_mid_file_then_run_again_loses_nothing(
    tmp_path: Path, redis_server: harness.RedisServer, archive: Path
) -> None:
    """SIGKILL of the import mid-file; the same command again goes on from its offset: every
    article indexed exactly once, no work left open."""
    # The import's workers die with it (a lifeline), so what they were running waits for its
    # work lease to run out: the backstop for work whose supervisor vanished with it.
    env = harness.base_env(tmp_path / "data", REDIS_URL=redis_server.url, NEWSFLOW_WORK_LEASE="20")
    proc = start_import(archive, env)
    orphans: list[int] = []
    try:

        def midway(stats: dict[str, int], imports: list[dict[str, str]]) -> bool:
            return bool(imports) and 60 <= int(imports[0].get("queued") or 0) < ARTICLES - 60

        assert wait_until(proc, env, midway), proc.communicate()[1][-3000:]
        orphans = list(harness.worker_mains(proc.pid).values())
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        _, imports = read_state(env)
        assert imports[0]["state"] == "running"  # what `status` shows as in progress
        status = harness.newsflow(["status"], env)
        assert "import in progress: " in status.stdout and str(archive) in status.stdout

        again = harness.newsflow(["import", str(archive), "--window", "20", "--timeout", "400"], env, timeout=500)
        assert again.returncode == 0, again.stderr[-3000:]
        total_records = 2 * ARTICLES + 4 * SITES
        read_again = int(next(x for x in again.stdout.splitlines() if x.startswith("records read:")).split()[-1])
        assert 0 < read_again < total_records - 100  # it went on from its offset
        check_everything_once(env)
    finally:
        # Workers of the killed import outlive it (each leads its own session); stop them here.
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_workers_killed_during_an_import_lose_nothing(
    tmp_path: Path, redis_server: harness.RedisServer, archive: Path
) -> None:
    """SIGKILL of the cleaning worker, then of the I/O worker, while the import runs: they are
    restarted, and every article is indexed exactly once by the one command."""
    env = harness.base_env(tmp_path / "data", REDIS_URL=redis_server.url)
    proc = start_import(archive, env)
    killed = []
    most_open = sample_open_pages(proc, env)
    try:
        for name, at in (("process", 40), ("io", 120)):
            assert wait_until(proc, env, lambda s, i, at=at: s.get("indexed", 0) >= at), proc.communicate()[1][-3000:]
            pid = harness.worker_mains(proc.pid).get(name)
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            killed.append(name)
            time.sleep(2.0)
        stdout, stderr = proc.communicate(timeout=500)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr[-3000:]
    assert killed == ["process", "io"]
    assert "worker restarts:   2" in stdout
    check_everything_once(env)
    # The backpressure: never more than the window and one batch of its pages open at once.
    assert 0 < max(most_open) <= 20 + 50
