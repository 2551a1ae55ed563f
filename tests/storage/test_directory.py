"""The raw page store on disk: its files, and `prune-raw` on it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipeline.errors import PermanentError
from pipeline.storage import DirectoryRawStore
from workers.cli import main

DAY = 86400.0


def age(store: DirectoryRawStore, ref: str, days: float) -> None:
    path = store.root / ref[:2] / ref[2:4] / f"{ref}.gz"
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def test_a_page_is_stored_once_under_its_digest(tmp_path: Path) -> None:
    store = DirectoryRawStore(tmp_path)
    body = "<p>Trang báo mẫu</p>".encode()
    assert store.put(body) == store.put(body)
    assert store.get(store.put(body)) == body
    assert len(list(tmp_path.glob("*/*/*.gz"))) == 1


def test_prune_removes_old_pages_and_keeps_recent_ones(tmp_path: Path) -> None:
    store = DirectoryRawStore(tmp_path)
    old, older, fresh = (store.put(f"<p>page {n}</p>".encode()) for n in range(3))
    age(store, old, 40)
    age(store, older, 400)
    files, freed = store.prune(30 * DAY)
    assert files == 2 and freed > 0
    assert store.get(fresh) == b"<p>page 2</p>"
    with pytest.raises(PermanentError, match="fetch the URL again"):
        store.get(old)


def test_prune_raw_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`newsflow prune-raw --older-than DAYS` prunes the data directory's store and says how much."""
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path))
    store = DirectoryRawStore(tmp_path / "raw")
    ref = store.put(b"<p>old page</p>")
    age(store, ref, 90)
    store.put(b"<p>new page</p>")
    assert main(["prune-raw", "--older-than", "60"]) == 0
    assert "pruned 1 raw page(s)" in capsys.readouterr().out
    assert not store.exists(ref)
    with pytest.raises(SystemExit) as refused:  # too young to prune: a usage error
        main(["prune-raw", "--older-than", "0.5"])
    assert refused.value.code == 2
    assert "is not a number of days from 1" in capsys.readouterr().err
