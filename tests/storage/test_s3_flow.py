"""Real workers with the raw store in a bucket: ingest, reprocess, WARC export, prune, start-up check.

The workers and this process get the same data directory of their own, an S3 raw store on
moto's server (127.0.0.1) and the session's Redis: no raw page may land on disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_datetime

from demo.server import SiteServer
from pipeline.feeds import FeedConfig
from pipeline.models import Article
from pipeline.stages import poll_work
from pipeline.storage import S3RawStore, key_of, s3_client
from tests.storage.helpers import aws_test_env, set_aws_env
from tests.support import SITES, make_settings, start_workers
from workers.cli import main
from workers.handoff import submit
from workers.runtime import Runtime
from workers.service import wait_until_idle
from workers.supervisor import WorkerGroup

pytestmark = pytest.mark.integration

SITE = "courier"


@dataclass
class S3Pipeline:
    rt: Runtime
    group: WorkerGroup
    store: S3RawStore
    data_dir: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def pipeline(s3_endpoint: str, embedded_redis: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Pipeline]:
    data_dir = tmp_path_factory.mktemp("s3-host")
    bucket = f"newsflow-flow-{uuid.uuid4().hex[:10]}"
    env = {**aws_test_env(s3_endpoint, data_dir), "NEWSFLOW_RAW_STORE": f"s3://{bucket}/raw"}
    with pytest.MonkeyPatch.context() as mp:
        set_aws_env(mp, env)
        mp.setenv("NEWSFLOW_DATA_DIR", str(data_dir))  # for the commands this test runs in-process
        s3_client().create_bucket(Bucket=bucket)
        rt = Runtime(make_settings(data_dir, embedded_redis, raw_store=env["NEWSFLOW_RAW_STORE"]))
        rt.state.clear()
        group = start_workers(data_dir, embedded_redis, "s3", **env)
        try:
            store = rt.raw_store
            assert isinstance(store, S3RawStore)
            yield S3Pipeline(rt, group, store, data_dir, env)
        finally:
            group.stop()
            rt.close()


@pytest.fixture(scope="module")
def ingested(pipeline: S3Pipeline) -> Iterator[tuple[SiteServer, list[Article]]]:
    with SiteServer(SITES / SITE) as site:
        feed = FeedConfig(url=f"{site.base}/feed.xml", site=f"{SITE}-s3")
        submit(pipeline.rt.state, [poll_work(feed.model_dump(), feed.id, scheduled=False)])
        assert wait_until_idle(pipeline.rt, pipeline.group, 120), "work still queued after 120 s"
        yield site, [a for a in pipeline.rt.search.iter_all() if a.url.startswith(site.base)]


def served_body(site: SiteServer, url: str) -> bytes:
    """The bytes the site server sent for one page (its file, with the base filled in)."""
    path = url.removeprefix(site.base + "/")
    return (SITES / SITE / path).read_bytes().replace(b"{{BASE}}", site.base.encode())


def expected_titles() -> list[str]:
    return sorted(a["title"] for a in json.loads((SITES / SITE / "expected.json").read_text())["articles"])


def test_workers_keep_raw_pages_in_the_bucket_and_nothing_under_the_data_dir(
    pipeline: S3Pipeline, ingested: tuple[SiteServer, list[Article]]
) -> None:
    site, articles = ingested
    assert sorted(a.title for a in articles) == expected_titles()
    assert pipeline.rt.state.dead.count() == 0
    for art in articles:
        assert art.raw_ref and pipeline.store.get(art.raw_ref) == served_body(site, art.url)
    assert not (pipeline.data_dir / "raw").exists()
    refs = {a.raw_ref for a in articles}
    on_disk = [p for p in pipeline.data_dir.rglob("*") if any(str(ref) in p.name for ref in refs)]
    assert on_disk == []


def test_reprocess_reads_every_page_from_the_bucket(
    pipeline: S3Pipeline, ingested: tuple[SiteServer, list[Article]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A page removed from the bucket fails its re-cleaning, saying where it looked; the others are cleaned again."""
    site, articles = ingested
    gone = articles[0]
    assert gone.raw_ref
    body = pipeline.store.get(gone.raw_ref)
    pipeline.store.client.delete_object(Bucket=pipeline.store.bucket, Key=f"raw/{key_of(gone.raw_ref)}")
    try:
        assert main(["reprocess"]) == 0
        assert f"queued {len(articles)} stored page(s)" in capsys.readouterr().out
        assert wait_until_idle(pipeline.rt, pipeline.group, 120)
        letters = pipeline.rt.state.dead.entries()
        assert len(letters) == 1
        assert f"raw page {gone.raw_ref} is not in {pipeline.store.location}" in letters[0].error
        again = {a.url: a for a in pipeline.rt.search.iter_all() if a.url.startswith(site.base)}
        assert sorted(a.title for a in again.values()) == expected_titles()
    finally:
        pipeline.store.put(body)  # the tests after this one export and prune every page


def test_export_warc_holds_each_page_with_its_url_and_fetch_time(
    pipeline: S3Pipeline, ingested: tuple[SiteServer, list[Article]], tmp_path: Path
) -> None:
    site, articles = ingested
    target = tmp_path / "pages.warc.gz"
    assert main(["export", "--warc", str(target)]) == 0
    records: dict[str, Any] = {}
    with target.open("rb") as fh:
        types = []
        for record in ArchiveIterator(fh):
            types.append(record.rec_type)
            if record.rec_type == "response":
                url = record.rec_headers.get_header("WARC-Target-URI")
                date = iso_date_to_datetime(record.rec_headers.get_header("WARC-Date"))
                assert record.http_headers.get_statuscode() == "200"
                records[url] = (date, record.content_stream().read())
    assert types[0] == "warcinfo" and types.count("response") == len(articles)
    assert set(records) == {a.url for a in articles}
    for art in articles:
        date, body = records[art.url]
        assert art.fetched_at is not None
        assert date.replace(tzinfo=UTC) == art.fetched_at.astimezone(UTC).replace(microsecond=0)
        assert body == served_body(site, art.url)
    assert list(tmp_path.iterdir()) == [target]  # no partial file left beside it


def test_prune_raw_works_on_the_bucket(
    pipeline: S3Pipeline, ingested: tuple[SiteServer, list[Article]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The command prunes the bucket (nothing is a day old yet); pages older than the cutoff go."""
    _, articles = ingested
    assert main(["prune-raw", "--older-than", "1"]) == 0
    assert (
        f"pruned 0 raw page(s), 0.0 MB, older than 1 day(s), from {pipeline.store.location}" in capsys.readouterr().out
    )
    assert all(a.raw_ref and pipeline.store.exists(a.raw_ref) for a in articles)
    later = max(p.stored_at for p in pipeline.store.iter_pages()) + 2 * 86400
    pages, freed = pipeline.store.prune(86400, now=later)
    assert pages == len({a.raw_ref for a in articles}) and freed > 0
    assert not any(a.raw_ref and pipeline.store.exists(a.raw_ref) for a in articles)


def test_run_stops_at_once_on_a_missing_bucket(
    pipeline: S3Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - url: http://127.0.0.1:9/feed.xml\n", encoding="utf-8")
    monkeypatch.setenv("NEWSFLOW_RAW_STORE", "s3://newsflow-missing-bucket/raw")
    assert main(["run", "--once", "--feeds", str(feeds)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "raw store bucket 'newsflow-missing-bucket' does not exist at http://127.0.0.1" in err[0]
    assert "create it" in err[0]


def test_a_worker_stops_at_start_on_a_missing_bucket(pipeline: S3Pipeline, embedded_redis: str) -> None:
    """`celery -A workers worker` with a bucket that does not exist exits at once, saying so."""
    env = {
        **os.environ,
        **pipeline.env,
        "REDIS_URL": embedded_redis,
        "NEWSFLOW_DATA_DIR": str(pipeline.data_dir),
        "NEWSFLOW_RAW_STORE": "s3://newsflow-missing-bucket",
    }
    cmd = [sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "fetch", "-P", "threads", "-c", "1"]
    cmd += ["-n", f"s3-check-{os.getpid()}@%h", "--without-gossip", "--without-mingle"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "raw store bucket 'newsflow-missing-bucket' does not exist" in done.stdout + done.stderr
