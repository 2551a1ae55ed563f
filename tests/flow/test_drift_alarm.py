"""The drift alarm end to end: a site's pages are ingested, then it "redesigns" (bodies suddenly
short), and `status --json`, `/metrics` and the worker logs name the site and what changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pipeline.drift import BASELINE_PAGES, RECENT_PAGES
from pipeline.stages import fetch_work
from tests.faults import harness
from tests.surfaces.server import ApiServer
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration


def status(rt: Runtime) -> dict:
    env = harness.base_env(Path(rt.settings.data_dir), REDIS_URL=rt.redis_url)
    done = subprocess.run(
        [sys.executable, "-m", "workers.cli", "status", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_redesign_that_shortens_bodies_raises_the_site_s_alarm(runtime: Runtime, workers: WorkerGroup) -> None:
    normal = BASELINE_PAGES + RECENT_PAGES
    (site,) = harness.make_sites(1, normal + RECENT_PAGES)
    for i in range(normal, len(site.articles)):  # the redesign: the article text shrinks to a teaser line
        slug, title, paragraphs = site.articles[i]
        site.articles[i] = (slug, title, [" ".join(paragraphs[0].split()[:14]) + "."])
    with harness.serve([site]):
        urls = [f"{site.base}/news/{slug}.html" for slug, _, _ in site.articles]
        submit(runtime.state, [fetch_work(u, site=site.name) for u in urls[:normal]])
        assert wait_until_idle(runtime, workers, 180)
        assert status(runtime)["drift"] == []  # two windows of the usual pages: no alarm
        submit(runtime.state, [fetch_work(u, site=site.name) for u in urls[normal:]])
        assert wait_until_idle(runtime, workers, 120)

    (alarm,) = status(runtime)["drift"]
    assert alarm["site"] == site.name
    assert "body_length_fell" in alarm["kinds"] or "no_text_rose" in alarm["kinds"]
    assert alarm["recent"]["pages"] == RECENT_PAGES
    if "body_length_fell" in alarm["kinds"]:
        assert alarm["recent"]["median_length"] < alarm["baseline"]["median_length"] / 2
    with ApiServer(runtime) as api:
        metrics = httpx.get(f"{api.base}/metrics", timeout=30).text
    for kind in alarm["kinds"]:
        assert f'newsflow_extraction_drift{{kind="{kind}",site="{site.name}"}} 1.0' in metrics
    logs = "".join(p.read_text(errors="replace") for p in Path(runtime.settings.data_dir).rglob("*.log"))
    assert f"drift: {site.name} changed over its last {RECENT_PAGES} pages" in logs
