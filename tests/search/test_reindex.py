"""Moving a data directory's SQLite index to Tantivy: it keeps working until `newsflow reindex`
has built the new index, which then takes its place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.models import Article, article_id
from pipeline.search import backend_name, open_backend
from pipeline.search.base import SearchQuery
from pipeline.search.migrate import rebuild_embedded
from pipeline.search.sqlite import SqliteBackend
from pipeline.search.tantivy import TantivyBackend
from pipeline.settings import Settings
from tests.cli.helpers import index_one_article, newsflow


def articles(n: int) -> list[Article]:
    urls = [f"https://example.org/tin/{i}.html" for i in range(n)]
    return [
        Article(id=article_id(u), url=u, canonical_url=u, site="example.org", title=f"Đường phố {i}", body="Phố cổ.")
        for i, u in enumerate(urls)
    ]


def test_a_sqlite_data_directory_keeps_working_and_reindex_moves_it_to_tantivy(tmp_path: Path) -> None:
    index_one_article(tmp_path)  # the index of a data directory from before the upgrade
    before = newsflow(["search", "le hoi", "--json"], tmp_path)
    assert before.returncode == 0, before.stderr
    assert [h["title"] for h in json.loads(before.stdout)["hits"]] == ["Lễ hội mùa xuân"]
    assert not (tmp_path / "index.tantivy").exists()

    moved = newsflow(["reindex"], tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert "1 article(s)" in moved.stdout and "switched" in moved.stdout
    settings = Settings(data_dir=tmp_path)
    assert backend_name(settings) == "tantivy"
    backend = open_backend(settings)
    try:
        assert isinstance(backend, TantivyBackend) and backend.count() == 1
    finally:
        backend.close()
    after = newsflow(["search", "le hoi", "--json"], tmp_path)
    assert after.returncode == 0, after.stderr
    assert [h["title"] for h in json.loads(after.stdout)["hits"]] == ["Lễ hội mùa xuân"]


def test_a_reindex_cut_short_leaves_the_old_index_in_use(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    old = SqliteBackend(settings.sqlite_path)
    old.index(articles(2500))
    old.close()

    def stop_at_the_end(done: int, total: int) -> None:
        if done == total:
            raise KeyboardInterrupt  # the operator's Ctrl-C, just before the switch

    with pytest.raises(KeyboardInterrupt):
        rebuild_embedded(settings, stop_at_the_end)
    assert backend_name(settings) == "sqlite" and not settings.tantivy_path.exists()

    seen: list[tuple[int, int]] = []
    done = rebuild_embedded(settings, lambda n, total: seen.append((n, total)))
    assert done.copied == 2500 and seen[-1] == (2500, 2500) and len(seen) > 1
    assert backend_name(settings) == "tantivy"
    backend = TantivyBackend(settings.tantivy_path)
    try:
        assert backend.count() == 2500
        assert backend.search(SearchQuery(text="duong pho 7")).total >= 1
    finally:
        backend.close()


def test_reindex_with_sqlite_chosen_is_a_usage_error(tmp_path: Path) -> None:
    done = newsflow(["reindex"], tmp_path, NEWSFLOW_SEARCH_BACKEND="sqlite")
    assert done.returncode == 2 and "sqlite" in done.stderr


def test_reindex_of_an_empty_index_switches_to_an_empty_one(tmp_path: Path) -> None:
    """A data directory whose index holds no article yet: reindex builds an empty index and
    switches to it, never leaving the directory without one."""
    settings = Settings(data_dir=tmp_path)
    empty = TantivyBackend(settings.tantivy_path)
    empty.ensure_ready()
    empty.close()
    done = newsflow(["reindex"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "0 article(s)" in done.stdout and "switched" in done.stdout
    assert backend_name(settings) == "tantivy"
    backend = TantivyBackend(settings.tantivy_path)
    try:
        assert backend.count() == 0
    finally:
        backend.close()
