"""The drift alarm end to end: a site's pages are ingested, then it "redesigns" (bodies suddenly
short), and `status --json`, `/metrics` and the worker logs name the site and what changed; then
`newsflow drift accept` takes the redesign as the site's new normal.

This module's workers run with small drift windows (NEWSFLOW_DRIFT_*), so the alarm also shows
that the settings reach the workers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.stages import fetch_work
from tests.faults import harness
from tests.support import start_workers
from tests.surfaces.server import ApiServer
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration

BASELINE, RECENT = 12, 6
WINDOWS = {"NEWSFLOW_DRIFT_BASELINE_PAGES": str(BASELINE), "NEWSFLOW_DRIFT_RECENT_PAGES": str(RECENT)}


@pytest.fixture(scope="module")
def workers(data_dir: Path, embedded_redis: str) -> Iterator[WorkerGroup]:
    """Real workers for every queue, judging drift over BASELINE and RECENT pages."""
    group = start_workers(data_dir, embedded_redis, "drift", **WINDOWS)
    yield group
    group.stop()


def newsflow(rt: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command line on the test's Redis and data directory, with this module's windows."""
    env = harness.base_env(Path(rt.settings.data_dir), REDIS_URL=rt.redis_url, **WINDOWS)
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def cli_json(rt: Runtime, *args: str) -> object:
    done = newsflow(rt, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def status(rt: Runtime) -> dict:
    report = cli_json(rt, "status")
    assert isinstance(report, dict)
    return report


def redesigned_site(normal: int, redesigned: int) -> harness.Site:
    """A site whose first `normal` articles are full, and whose next `redesigned` ones shrink to
    a teaser line (a redesign the cleaner no longer finds the article text of)."""
    (site,) = harness.make_sites(1, normal + redesigned)
    for i in range(normal, len(site.articles)):
        slug, title, paragraphs = site.articles[i]
        site.articles[i] = (slug, title, [" ".join(paragraphs[0].split()[:14]) + "."])
    return site


def ingest(rt: Runtime, workers: WorkerGroup, site: harness.Site, pages: slice) -> None:
    """Fetch and clean the site's articles in `pages` through the workers, until all is done."""
    urls = [f"{site.base}/news/{slug}.html" for slug, _, _ in site.articles[pages]]
    submit(rt.state, [fetch_work(u, site=site.name) for u in urls])
    assert wait_until_idle(rt, workers, 180)


def test_a_redesign_that_shortens_bodies_raises_the_site_s_alarm(runtime: Runtime, workers: WorkerGroup) -> None:
    normal = BASELINE + RECENT
    site = redesigned_site(normal, RECENT)
    with harness.serve([site]):
        ingest(runtime, workers, site, slice(0, normal))
        assert status(runtime)["drift"] == []  # two windows of the usual pages: no alarm
        ingest(runtime, workers, site, slice(normal, None))

    (alarm,) = status(runtime)["drift"]
    assert alarm["site"] == site.name
    assert "body_length_fell" in alarm["kinds"] or "no_text_rose" in alarm["kinds"]
    assert alarm["recent"]["pages"] == RECENT
    if "body_length_fell" in alarm["kinds"]:
        assert alarm["recent"]["median_length"] < alarm["baseline"]["median_length"] / 2
    with ApiServer(runtime) as api:
        metrics = httpx.get(f"{api.base}/metrics", timeout=30).text
    for kind in alarm["kinds"]:
        assert f'newsflow_extraction_drift{{kind="{kind}",site="{site.name}"}} 1.0' in metrics
    logs = "".join(p.read_text(errors="replace") for p in Path(runtime.settings.data_dir).rglob("*.log"))
    assert f"drift: {site.name} changed over its last {RECENT} pages" in logs


def test_accepting_a_redesign_clears_the_alarm_and_the_next_pages_form_a_new_baseline(
    runtime: Runtime, workers: WorkerGroup
) -> None:
    """`drift list` shows the alarm and the windows; `drift accept SITE` clears both, after which
    the redesigned pages build a baseline of their own and raise nothing; `--all` forgets every site."""
    normal = BASELINE + RECENT
    site = redesigned_site(normal, RECENT + BASELINE + RECENT)
    with harness.serve([site]):
        # In two steps: pages of one batch are cleaned in any order, and the baseline must be
        # the usual pages only.
        ingest(runtime, workers, site, slice(0, normal))
        ingest(runtime, workers, site, slice(normal, normal + RECENT))
        (watched,) = cli_json(runtime, "drift")
        assert watched["site"] == site.name and watched["alarm"]["kinds"]
        assert (watched["baseline_pages"], watched["baseline_target"]) == (BASELINE, BASELINE)
        assert (watched["recent_pages"], watched["recent_target"]) == (0, RECENT)
        shown = newsflow(runtime, "drift").stdout  # a pipe: one plain line a site
        assert f"{site.name}  baseline {BASELINE}/{BASELINE}  recent 0/{RECENT}  ALARM since " in shown

        assert newsflow(runtime, "drift", "accept", "nosuch.example").returncode == 1
        accepted = newsflow(runtime, "drift", "accept", site.name)
        assert accepted.returncode == 0, accepted.stderr
        assert f"accepted {site.name}" in accepted.stdout
        assert cli_json(runtime, "drift", "list") == []
        report = status(runtime)
        assert report["drift"] == []
        assert report["events"][0]["kind"] == "drift_accepted" and site.name in report["events"][0]["message"]

        ingest(runtime, workers, site, slice(normal + RECENT, None))  # more pages in the new layout
    (watched,) = cli_json(runtime, "drift", "list")
    assert (watched["baseline_pages"], watched["recent_pages"], watched["alarm"]) == (BASELINE, 0, None)

    everything = newsflow(runtime, "drift", "accept", "--all")
    assert everything.returncode == 0 and f"accepted {site.name}" in everything.stdout
    assert cli_json(runtime, "drift") == []
