"""Two hosts, simulated: two worker groups with data directories of their own (no shared file),
one Redis, one search backend and one bucket. One group is killed for good mid-run; the other
finishes the work, and every article is indexed exactly once."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from pipeline.feeds import FeedConfig
from pipeline.stages import poll_work
from pipeline.storage import s3_client
from tests.faults import harness
from tests.search.noida import NoidaServer
from tests.storage.helpers import aws_test_env, set_aws_env
from tests.support import make_settings, start_workers
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle

pytestmark = pytest.mark.integration
ARTICLES = 36


@pytest.mark.skipif(bool(os.environ.get("ELASTICSEARCH_URL")), reason="starts its own search backend")
def test_a_host_lost_mid_run_loses_nothing(s3_endpoint: str, embedded_redis: str, tmp_path: Path) -> None:
    """SIGKILL of every process of host A (no restart: the host is gone); host B ends the run with
    every article indexed once, and no raw page written under either data directory."""
    noida = NoidaServer(tmp_path / "noida").start()
    bucket = f"newsflow-hosts-{uuid.uuid4().hex[:10]}"
    shared = {
        **aws_test_env(s3_endpoint, tmp_path),
        "NEWSFLOW_RAW_STORE": f"s3://{bucket}/raw",
        "ELASTICSEARCH_URL": noida.url,
        "NEWSFLOW_ELASTICSEARCH_INDEX": f"hosts-{uuid.uuid4().hex[:8]}",
        # The lost host's running items come back after this lease; its queued ones after the grace.
        "NEWSFLOW_WORK_LEASE": "15",
        "NEWSFLOW_WORK_GRACE": "3",
    }
    dirs = {name: tmp_path / f"host-{name}" for name in ("a", "b", "watcher")}
    groups = {}
    with pytest.MonkeyPatch.context() as mp, harness.serve(harness.make_sites(3, ARTICLES)) as sites:
        set_aws_env(mp, shared)
        s3_client().create_bucket(Bucket=bucket)
        settings = make_settings(
            dirs["watcher"],
            embedded_redis,
            raw_store=shared["NEWSFLOW_RAW_STORE"],
            elasticsearch_url=noida.url,
            elasticsearch_index=shared["NEWSFLOW_ELASTICSEARCH_INDEX"],
            work_lease=15.0,
            work_grace=3.0,
        )
        rt = Runtime(settings)
        rt.state.clear()
        try:
            for name in ("a", "b"):
                dirs[name].mkdir()
                groups[name] = start_workers(dirs[name], embedded_redis, f"host-{name}", **shared)
            feeds = [FeedConfig(url=f"{s.base}/feed.xml", site=s.name) for s in sites]
            submit(rt.state, [poll_work(f.model_dump(), f.id, scheduled=False) for f in feeds])
            deadline = time.monotonic() + 60
            while rt.state.stats().get("fetched", 0) < ARTICLES // 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            for proc in groups["a"].procs:  # the host is gone: its processes and their children
                os.killpg(proc.pid, signal.SIGKILL)
            at_kill = rt.state.stats().get("indexed", 0)
            assert wait_until_idle(rt, groups["b"], 240), "work still open after 240 s"
            stats = rt.state.stats()
            rt.search.refresh_now()  # type: ignore[attr-defined]  # what was indexed, searchable now
            urls = [a.url for a in rt.search.iter_all()]
        finally:
            for group in groups.values():
                group.stop()
            rt.close()
            noida.stop(timeout=120)
    expected = {f"{s.base}/news/{slug}.html" for s in sites for slug, _, _ in s.articles}
    assert at_kill < ARTICLES, "host A died after the work was done: nothing was tested"
    assert sorted(urls) == sorted(expected), stats  # each once
    for name in ("a", "b"):
        assert not list((dirs[name] / "raw").rglob("*.gz")), f"host {name} wrote raw pages to its disk"
