"""The Tantivy index as it runs: one writer at a time, readers in other processes, crashes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from pipeline.search.base import SearchQuery
from pipeline.search.tantivy import TantivyBackend
from tests.search.test_reindex import articles

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `code` in another process (the index stage, a CLI) from the source tree."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


WRITE = """
    from pipeline.search.tantivy import TantivyBackend
    from tests.search.test_reindex import articles
    backend = TantivyBackend({path!r})
    backend.index(articles({n})[{start}:])
    {then}
"""


def test_a_reader_in_another_process_sees_a_commit_at_its_next_search(tmp_path: Path) -> None:
    reader = TantivyBackend(tmp_path / "idx")
    reader.ensure_ready()
    assert reader.search(SearchQuery(text="duong")).total == 0  # its searcher is open on the empty index
    done = python(WRITE.format(path=str(tmp_path / "idx"), n=3, start=0, then="backend.close()"))
    assert done.returncode == 0, done.stderr
    assert reader.search(SearchQuery(text="duong")).total == 3  # no reopening, no waiting
    assert reader.count() == 3
    reader.close()


def test_a_writer_killed_mid_batch_leaves_the_last_commit_readable_and_the_index_writable(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    first = TantivyBackend(path)
    first.index(articles(5))
    first.close()
    # Another process adds documents and dies before its commit, holding the writer.
    crash = """
        import os, signal
        from pipeline.search.tantivy import TantivyBackend, _document
        from tests.search.test_reindex import articles
        backend = TantivyBackend({path!r})
        with backend._writer() as (writer, _searcher):
            for art in articles(50)[5:]:
                writer.add_document(_document(art, [1, 1, 1, 1]))
            os.kill(os.getpid(), signal.SIGKILL)
    """
    done = python(crash.format(path=str(path)))
    assert done.returncode == -signal.SIGKILL
    after = TantivyBackend(path, lock_wait=30)
    try:
        assert after.count() == 5
        assert after.search(SearchQuery(text="duong pho 3")).total >= 1
        after.index(articles(6)[5:])  # the dead writer's lock went with it
        assert after.count() == 6
    finally:
        after.close()


def test_writers_in_two_processes_take_turns(tmp_path: Path) -> None:
    """A process that keeps the writer between batches lets it go when idle; another one waits."""
    path = tmp_path / "idx"
    hold = "import time; time.sleep(0.5); backend.close()"  # idle, then gone: its writer is let go
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITE.format(path=str(path), n=20, start=10, then=hold))], cwd=ROOT
    )
    try:
        mine = TantivyBackend(path, lock_wait=60)
        mine.index(articles(10))
        assert writer.wait(timeout=120) == 0
        assert mine.count() == 20
        mine.close()
    finally:
        writer.kill()
