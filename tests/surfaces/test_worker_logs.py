"""Worker logs with NEWSFLOW_LOG_FORMAT=json: one JSON object a line, task lines with stage, id, URL and outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.feeds import FeedConfig
from pipeline.stages import poll_work
from tests.cli.helpers import wait_for
from tests.support import WORKER_ENV, start_workers
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup, WorkerSpec

pytestmark = pytest.mark.integration


def test_json_worker_logs_name_stage_task_url_and_outcome(
    runtime: Runtime, data_dir: Path, embedded_redis: str, site: SiteServer
) -> None:
    """Every line of every worker's and the scheduler's log is one JSON object, from start to
    stop (Python warnings such as Celery's about running as root included); each task ends
    with a line naming its outcome."""
    env = {**WORKER_ENV, "NEWSFLOW_LOG_FORMAT": "json"}
    beat = WorkerGroup(embedded_redis, data_dir, [WorkerSpec("jsonlog-beat", beat=True)], data_dir / "logs")
    group = start_workers(data_dir, embedded_redis, "jsonlog", NEWSFLOW_LOG_FORMAT="json")
    try:
        beat.start(env)
        wait_for(lambda: "scheduler lease" in (data_dir / "logs" / "worker-jsonlog-beat.log").read_text(), 60)
        feed = FeedConfig(url=f"{site.base}/feed.xml", site="courier-logs")
        submit(runtime.state, [poll_work(feed.model_dump(), feed.id, scheduled=False)])
        assert wait_until_idle(runtime, group, 90)
    finally:
        beat.stop()
        group.stop()
    records = []
    paths = sorted((data_dir / "logs").glob("worker-jsonlog-*.log"))
    assert len(paths) == 3
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            assert line.startswith("{"), f"{path.name}: {line}"
            records.append(json.loads(line))
    if os.geteuid() == 0:  # Celery warns at start; the warning is one record, not loose lines
        warned = [r for r in records if r["logger"] == "py.warnings"]
        assert any("superuser privileges" in r["message"] for r in warned), warned
    assert any(r["logger"] == "newsflow.scheduler" for r in records)
    ends = [r for r in records if r["logger"] == "newsflow.tasks"]
    fetches = [r for r in ends if r["stage"] == "fetch"]
    assert len(fetches) == 4  # the courier site's articles
    for r in fetches:
        assert r["outcome"] == "completed" and r["task_id"] and r["url"].startswith(site.base)
        assert {"time", "level", "message"} <= r.keys()
    assert {r["stage"] for r in ends} >= {"poll", "fetch", "clean", "index"}
    assert all(r["url"] and r["url"].startswith(site.base) for r in ends if r["stage"] in ("poll", "fetch", "clean"))


STRAY = """
import sys, warnings
from workers.logs import configure_logging, route_stray_output
configure_logging("json")
route_stray_output()
print("a line on stdout")
print("an error\\n  and its continuation", file=sys.stderr)
sys.__stderr__.write("what Celery prints from a signal handler\\n")
warnings.warn("careful:\\n  a second line")
raise RuntimeError("a bug, with its traceback")
"""


def test_stray_output_of_a_json_process_is_json_too() -> None:
    """What a worker prints outside logging (stdout, stderr, Python's own copy of stderr, a
    warning, the traceback of a crash) comes out one JSON object a line."""
    done = subprocess.run([sys.executable, "-c", STRAY], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    records = [json.loads(line) for line in done.stderr.splitlines()]
    messages = [r["message"] for r in records]
    for text in ("a line on stdout", "an error", "  and its continuation", "what Celery prints from a signal handler"):
        assert text in messages, messages
    assert any("careful:\n  a second line" in m for m in messages)
    assert any("RuntimeError: a bug, with its traceback" in m for m in messages)
