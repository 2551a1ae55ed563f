"""`run --once` polls the feeds registered with `feeds add/load/import`, not only those of its file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.faults import harness

pytestmark = pytest.mark.integration


def test_run_once_polls_registered_feeds(tmp_path: Path) -> None:
    """A feed added with `feeds add` is polled by a later `run --once` given an empty feeds file."""
    env = harness.base_env(tmp_path / "data")
    with harness.serve(harness.make_sites(2, 6)) as sites:
        for site in sites:
            added = harness.newsflow(["feeds", "add", "--no-discover", f"{site.base}/feed.xml"], env)
            assert added.returncode == 0, added.stderr
        empty = tmp_path / "feeds.yaml"
        empty.write_text("feeds: []\n")
        run = harness.newsflow(["run", "--once", "--feeds", str(empty)], env)
        assert run.returncode == 0, run.stderr
        assert "feeds polled:      2 of 2" in run.stdout
        export = harness.newsflow(["export"], env)
    urls = {json.loads(line)["url"] for line in export.stdout.splitlines() if line.strip()}
    assert len(urls) == 6
