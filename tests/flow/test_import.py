"""`newsflow import`: WARC files into the index through the queues, as an operator runs it.

Each test writes its own archive of the fault harness's synthetic sites (pages written here,
never fetched), runs the installed command on a data directory of its own (embedded Redis,
SQLite, workers the import starts), and reads what `export` and `status` say.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.models import article_id
from pipeline.settings import Settings
from tests.cli.helpers import newsflow
from tests.faults import harness
from workers.runtime import Runtime

pytestmark = pytest.mark.integration
ARCHIVE_DATE = "2025-03-04T05:06:07Z"


def offline_sites(sites: int, articles: int) -> list[harness.Site]:
    out = harness.make_sites(sites, articles)
    for i, site in enumerate(out):
        site.base = f"http://site{i}.example"
    return out


def exported(data: Path) -> list[dict]:
    run = newsflow(["export"], data)
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def line_of(stdout: str, label: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(label)).split(":", 1)[1].strip()


def test_import_indexes_every_page_once_and_importing_again_adds_nothing(tmp_path: Path) -> None:
    """Every archived article is indexed once with its clean body and the archive's date; the same
    command again reads nothing, and the same pages in another archive are skipped as seen."""
    sites = offline_sites(3, 30)
    archive = tmp_path / "crawl.warc.gz"
    pages = harness.write_archive(sites, archive, date=ARCHIVE_DATE)
    data = tmp_path / "data"

    first = newsflow(["import", str(archive)], data, timeout=300)
    assert first.returncode == 0, first.stderr
    assert line_of(first.stdout, "records read") == str(2 * pages + 4 * len(sites))
    assert line_of(first.stdout, "pages queued") == str(pages)
    assert line_of(first.stdout, "records skipped") == "metadata 3, not_html 3, redirect 3, request 30, status:404 3"
    assert line_of(first.stdout, "articles indexed").startswith(f"{pages} new")
    assert line_of(first.stdout, "failed").startswith("0 ")
    # In a pipe, progress is plain lines on stderr, the last with the final figures.
    last = [line for line in first.stderr.splitlines() if line.startswith("import: ")][-1]
    assert last.startswith(f"import: {2 * pages + 4 * len(sites)} records read, {pages} pages queued, {pages} cleaned")

    docs = exported(data)
    expected = {f"{s.base}/news/{slug}.html": paragraphs for s in sites for slug, _, paragraphs in s.articles}
    assert sorted(d["url"] for d in docs) == sorted(expected)  # each once
    for doc in docs:
        assert doc["id"] == article_id(doc["url"])
        assert doc["body"].split("\n\n") == expected[doc["url"]]  # the rail of related stories left out
        assert doc["fetched_at"].startswith("2025-03-04T05:06:07")  # WARC-Date is the fetch time
        assert doc["published_at"].startswith("2025-03-04T05:06:07")  # the page gives no date of its own

    again = newsflow(["import", str(archive)], data, timeout=300)
    assert again.returncode == 0, again.stderr
    assert line_of(again.stdout, "files") == "1 (1 read to the end before)"
    assert line_of(again.stdout, "records read") == "0"
    assert line_of(again.stdout, "articles indexed").startswith(f"0 new (index holds {pages};")

    # The same pages archived on another day: another file, every page already seen.
    other = tmp_path / "later.warc.gz"
    harness.write_archive(sites, other, date="2025-03-05T00:00:00Z", junk=False)
    later = newsflow(["import", str(other)], data, timeout=300)
    assert later.returncode == 0, later.stderr
    assert line_of(later.stdout, "pages queued") == "0"
    assert line_of(later.stdout, "records skipped") == f"request {pages}, seen {pages}"
    assert line_of(later.stdout, "articles indexed").startswith(f"0 new (index holds {pages};")

    status = newsflow(["status", "--json"], data)
    assert json.loads(status.stdout)["imports"] == []  # nothing in progress


def test_site_and_date_filters_leave_pages_out_before_any_cleaning(tmp_path: Path) -> None:
    """--site takes one site's pages only; --since after the archive's date takes none; no page of
    another site is cleaned (the `cleaned` counter counts only the site's)."""
    sites = offline_sites(2, 12)
    archive = tmp_path / "crawl.warc"
    harness.write_archive(sites, archive, date=ARCHIVE_DATE, junk=False)
    data = tmp_path / "data"
    late = newsflow(["import", str(archive), "--since", "2025-03-05"], data, timeout=300)
    assert late.returncode == 0, late.stderr
    assert line_of(late.stdout, "records skipped") == "before_since 12, request 12"
    one = newsflow(["import", str(archive), "--site", "site1.example", "--language", "es"], data, timeout=300)
    assert one.returncode == 0, one.stderr
    assert line_of(one.stdout, "pages queued") == "6"
    assert line_of(one.stdout, "records skipped") == "other_site 6, request 12"
    docs = exported(data)
    assert {d["site"] for d in docs} == {"site1.example"} and len(docs) == 6
    stats = json.loads(newsflow(["status", "--json"], data).stdout)["stats"]
    assert stats["cleaned"] == 6


def test_a_broken_archive_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    """A file that is no WARC, and one cut short: exit 1, a line naming each, no traceback; the
    pages before the cut are imported all the same."""
    notes = tmp_path / "notes.warc"
    notes.write_text("not an archive\n" * 5)
    archive = tmp_path / "crawl.warc.gz"
    harness.write_archive(offline_sites(2, 12), archive, junk=False)
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])
    data = tmp_path / "data"
    run = newsflow(["import", str(notes), str(cut)], data, timeout=300)
    assert run.returncode == 1
    errors = run.stderr.strip().splitlines()[-2:]
    assert errors[0].startswith(f"newsflow: {notes}: not a readable WARC record at byte 0")
    assert errors[1].startswith(f"newsflow: {cut}: cut short: ")
    assert "Traceback" not in run.stderr
    queued = int(line_of(run.stdout, "pages queued"))
    assert 4 <= queued < 12
    assert len(exported(data)) == queued
    # `status` says where each file stopped and why, not that it still runs.
    status = newsflow(["status"], data)
    assert f"import stopped: {notes}: stopped, " in status.stdout, status.stdout
    assert f"import stopped: {cut}: stopped, " in status.stdout and "; stopped: " in status.stdout
    assert "import in progress" not in status.stdout


def test_export_then_import_into_a_fresh_data_directory_gives_the_same_articles(tmp_path: Path) -> None:
    """`run --once` over served sites, `export --warc`, then `import` elsewhere: same ids, same bodies."""
    sites = harness.make_sites(3, 24)
    fetched = tmp_path / "fetched"
    with harness.serve(sites) as served:
        feeds = harness.write_feeds(served, tmp_path / "feeds.yaml")
        run = newsflow(["run", "--feeds", str(feeds), "--once", "--timeout", "240"], fetched, timeout=300)
        assert run.returncode == 0, run.stderr
    archive = tmp_path / "export.warc.gz"
    export = newsflow(["export", "--warc", str(archive)], fetched)
    assert export.returncode == 0, export.stderr
    imported = tmp_path / "imported"
    back = newsflow(["import", str(archive)], imported, timeout=300)
    assert back.returncode == 0, back.stderr
    before = {d["id"]: d for d in exported(fetched)}
    after = {d["id"]: d for d in exported(imported)}
    assert len(before) == 24
    assert sorted(after) == sorted(before)
    for doc_id, doc in before.items():
        assert after[doc_id]["body"] == doc["body"]
        assert after[doc_id]["url"] == doc["url"] and after[doc_id]["title"] == doc["title"]
        # The fetch time travels as WARC-Date, to the second.
        assert after[doc_id]["fetched_at"][:19] == doc["fetched_at"][:19]


def test_publish_only_waits_for_workers_then_the_same_import_goes_on(tmp_path: Path) -> None:
    """`--workers none` with no worker anywhere: the window fills, the import gives up after its
    timeout saying so, and shows in status; the command again (workers started) finishes it once."""
    sites = offline_sites(2, 40)
    archive = tmp_path / "crawl.warc.gz"
    harness.write_archive(sites, archive, junk=False)
    data = tmp_path / "data"
    # A page a feed already brought in is not imported again.
    with Runtime(Settings(data_dir=data, redis_url=None, redis_cluster=False, broker_url=None)) as rt:
        assert rt.state.seen.claim(f"{sites[0].base}/news/{sites[0].articles[0][0]}.html")
    stuck = newsflow(["import", str(archive), "--workers", "none", "--window", "5", "--timeout", "3"], data)
    assert stuck.returncode == 1
    assert "waited 3 s for workers to take them" in stuck.stderr.strip().splitlines()[-1]
    status = newsflow(["status", "--json"], data)
    report = json.loads(status.stdout)
    (progress,) = report["imports"]
    assert progress["state"] == "running" and 5 <= int(progress["queued"]) < 39
    assert report["queues"]["process"] == int(progress["queued"])  # published, waiting for workers
    done = newsflow(["import", str(archive)], data, timeout=300)
    assert done.returncode == 0, done.stderr
    assert line_of(done.stdout, "workers") == "started here"
    docs = exported(data)
    assert len(docs) == len({d["url"] for d in docs}) == 39
    assert json.loads(newsflow(["status", "--json"], data).stdout)["imports"] == []
