"""Worker logs with NEWSFLOW_LOG_FORMAT=json: one JSON object a line, task lines with stage, id, URL and outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.feeds import FeedConfig
from pipeline.stages import poll_work
from tests.support import start_workers
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle

pytestmark = pytest.mark.integration


def test_json_worker_logs_name_stage_task_url_and_outcome(
    runtime: Runtime, data_dir: Path, embedded_redis: str, site: SiteServer
) -> None:
    """Every log line a JSON worker writes parses; each task ends with a line naming its outcome."""
    group = start_workers(data_dir, embedded_redis, "jsonlog", NEWSFLOW_LOG_FORMAT="json")
    try:
        feed = FeedConfig(url=f"{site.base}/feed.xml", site="courier-logs")
        submit(runtime.state, [poll_work(feed.model_dump(), feed.id, scheduled=False)])
        assert wait_until_idle(runtime, group, 90)
    finally:
        group.stop()
    records = []
    for path in sorted((data_dir / "logs").glob("worker-jsonlog-*.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
            else:  # only Celery's start-up banner is printed outside logging
                assert not line.startswith(("[20", "20")), line
    ends = [r for r in records if r["logger"] == "newsflow.tasks"]
    fetches = [r for r in ends if r["stage"] == "fetch"]
    assert len(fetches) == 4  # the courier site's articles
    for r in fetches:
        assert r["outcome"] == "completed" and r["task_id"] and r["url"].startswith(site.base)
        assert {"time", "level", "message"} <= r.keys()
    assert {r["stage"] for r in ends} >= {"poll", "fetch", "clean", "index"}
    assert all(r["url"] and r["url"].startswith(site.base) for r in ends if r["stage"] in ("poll", "fetch", "clean"))
