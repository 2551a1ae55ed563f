"""Monthly indices on Elasticsearch: where articles go, how a re-clean finds them, retention by
whole index, and a deployment from before the monthly indices.

Runs against noida-db (or ELASTICSEARCH_URL), like the rest of tests/search.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.models import Article
from pipeline.search.base import SearchQuery
from pipeline.search.elastic import ElasticsearchBackend, load_template, month_of
from pipeline.search.sqlite import SqliteBackend
from pipeline.search.tantivy import TantivyBackend
from tests.search.test_search_contract import art as contract_art
from workers.cli import main

Make = Callable[..., ElasticsearchBackend]


def art(name: str, published: datetime | None = None, fetched: datetime | None = None, **extra: Any) -> Article:
    """A Vietnamese article of a.example, with the dates given (none unless given)."""
    fields = {"title": f"Tin {name}", "body": "Lũ quét ở vùng cao.", "language": "vi"} | extra
    return contract_art(name, published_at=published, fetched_at=fetched, **fields)


def day(year: int, month: int, dom: int = 15) -> datetime:
    return datetime(year, month, dom, 8, tzinfo=UTC)


def where(es: ElasticsearchBackend, doc_id: str) -> list[str]:
    """The concrete indices holding a document."""
    hits = es._client.search(index=es.alias, query={"ids": {"values": [doc_id]}}, size=10)["hits"]["hits"]
    return sorted(h["_index"] for h in hits)


def test_articles_go_to_the_index_of_their_month_and_the_alias_reads_them_all(make_es_backend: Make) -> None:
    """Each article lands in its month's index (made from the template); search, collapse, facets,
    cursor paging, get, scan and delete work across the months as on one index."""
    es = make_es_backend(batch_size=2)
    es.ensure_ready()
    jan, feb = art("jan", day(2025, 1)), art("feb", day(2025, 2))
    undated = art("undated", fetched=day(2025, 3))
    twin = art("jan-copy", day(2025, 2, 1), cluster_id=jan.id)  # the same story a month later
    outcome = es.index([jan, feb, undated, twin])
    assert sorted(outcome.indexed) == sorted(a.id for a in (jan, feb, undated, twin)) and not outcome.rejected
    assert where(es, jan.id) == [f"{es.alias}-2025.01-v1"]
    assert where(es, feb.id) == where(es, twin.id) == [f"{es.alias}-2025.02-v1"]
    assert where(es, undated.id) == [f"{es.alias}-2025.03-v1"]  # no date: the month it was fetched
    # Each new month's index took its mappings from the template, and joined both aliases.
    mapping = es._client.indices.get_mapping(index=f"{es.alias}-2025.03-v1").body[f"{es.alias}-2025.03-v1"]
    assert mapping["mappings"]["dynamic"] == "strict"
    assert set(mapping["mappings"]["properties"]) == set(load_template()["mappings"]["properties"])
    assert mapping["mappings"]["properties"]["title"]["analyzer"] == "folded"
    aliases = es._client.indices.get_alias(index=f"{es.alias}-2025.03-v1").body[f"{es.alias}-2025.03-v1"]["aliases"]
    assert set(aliases) == {es.alias, f"{es.alias}-2025.03"}

    assert es.count() == 4 and es.get(undated.id) == undated
    collapsed = es.search(SearchQuery(text="lu quet", facets=True))
    assert collapsed.total == 3  # the two months' copies of one story are one cluster
    assert sorted(h.cluster_size for h in collapsed.hits) == [1, 1, 2]
    assert collapsed.facets["published"] == {"2025-01-15": 1, "2025-02-01": 1, "2025-02-15": 1}
    paged: list[str] = []
    cursor = None
    while True:  # cursor paging across the months' indices, newest first
        page = es.search(SearchQuery(limit=1, collapse=False, sort="date", search_after=cursor))
        paged += [h.id for h in page.hits]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert paged == [feb.id, twin.id, jan.id, undated.id]
    assert [a.id for a in es.iter_all()] == sorted(a.id for a in (jan, feb, undated, twin))
    assert es.delete(feb.id) and not es.delete(feb.id) and es.count() == 3


def test_a_reclean_updates_the_one_copy_wherever_its_month_now_is(make_es_backend: Make) -> None:
    """A re-clean updates the stored copy in place, or moves it when its publication date appears
    or changes; an undated article stays in the month first seen."""
    es = make_es_backend()
    es.ensure_ready()
    first = art("story", fetched=day(2025, 1, 20))  # first cleaned without a date
    es.index([first])
    assert where(es, first.id) == [f"{es.alias}-2025.01-v1"]

    again = first.model_copy(update={"title": "Tin story, re-cleaned"})  # same page, same fetch time
    es.index([again])
    assert where(es, first.id) == [f"{es.alias}-2025.01-v1"] and es.get(first.id) == again

    refetched = first.model_copy(update={"fetched_at": day(2025, 4)})  # fetched again later, still undated
    es.index([refetched])
    assert where(es, first.id) == [f"{es.alias}-2025.01-v1"]  # it stays in the month first seen

    dated = first.model_copy(update={"published_at": day(2024, 12, 30)})  # the re-clean found its date
    es.index([dated])
    assert where(es, first.id) == [f"{es.alias}-2024.12-v1"] and es.get(first.id) == dated

    moved = dated.model_copy(update={"published_at": day(2025, 3, 2)})  # the page changed its date
    es.index([moved])
    assert where(es, first.id) == [f"{es.alias}-2025.03-v1"]
    assert es.count() == 1 and es.get(first.id) == moved
    assert es.search(SearchQuery(text="story", collapse=False)).total == 1


def test_prune_drops_whole_older_months_and_the_older_articles_of_the_month_at_the_cutoff(
    make_es_backend: Make,
) -> None:
    """Retention deletes whole months entirely older, then the older articles of the month at the
    cutoff; a dry run counts the same without deleting."""
    es = make_es_backend()
    es.ensure_ready()
    old = [art("nov", day(2024, 11)), art("dec", day(2024, 12)), art("dec-undated", fetched=day(2024, 12, 3))]
    early_jan, late_jan = art("jan-5", day(2025, 1, 5)), art("jan-25", day(2025, 1, 25))
    undated_jan = art("jan-undated", fetched=day(2025, 1, 2))
    feb = art("feb", day(2025, 2))
    es.index([*old, early_jan, late_jan, undated_jan, feb])
    cutoff = datetime(2025, 1, 10, tzinfo=UTC)

    plan = es.prune(cutoff, dry_run=True)
    assert es.count() == 7
    assert plan.dropped == {f"{es.alias}-2024.11-v1": 1, f"{es.alias}-2024.12-v1": 2}
    assert plan.deleted == {f"{es.alias}-2025.01-v1": 2} and plan.articles == 5

    done = es.prune(cutoff)
    assert (done.dropped, done.deleted) == (plan.dropped, plan.deleted)
    assert not es._client.indices.exists(index=f"{es.alias}-2024.11-v1")
    assert sorted(a.id for a in es.iter_all()) == sorted([late_jan.id, feb.id])
    assert es.prune(cutoff).articles == 0
    es.index([art("dec-again", day(2024, 12, 24))])  # an old article written again: its month comes back
    assert where(es, art("dec-again").id) == [f"{es.alias}-2024.12-v1"]


def single_index_deployment(es: ElasticsearchBackend, articles: list[Article]) -> str:
    """What a deployment from before the monthly indices has: one index, its alias, documents."""
    single = f"{es.alias}-v1"
    es._client.indices.create(index=single, aliases={es.alias: {"is_write_index": True}}, **load_template())
    outcome = es.index_docs([to_doc(a) for a in articles], index=single)
    assert len(outcome.indexed) == len(articles)
    return single


def to_doc(article: Article) -> dict[str, Any]:
    from pipeline.search.elastic import to_es_doc

    return to_es_doc(article)


def test_a_single_index_deployment_keeps_working_and_reindex_splits_it_into_months(make_es_backend: Make) -> None:
    """After the upgrade the single index is read, written out of and pruned; reindex splits it
    into months, takes it out of the alias and keeps it."""
    es = make_es_backend(batch_size=3)
    before = [art(f"old-{i}", day(2024, 10 + i % 3, 1 + i)) for i in range(9)]
    before.append(art("old-undated", fetched=day(2024, 9)))
    before.append(art("nonsense-date", datetime(3500, 5, 1, tzinfo=UTC)))  # a page's typo: the last month takes it
    single = single_index_deployment(es, before)
    es.ensure_ready()  # the upgrade: the alias exists, so no index is created; the template is put
    assert es.live_indices() == {single: None}
    assert es.count() == 11 and es.get(before[0].id) == before[0]

    new = art("new", day(2025, 2))
    es.index([new])  # new articles go to monthly indices, read through the same alias
    assert where(es, new.id) == [f"{es.alias}-2025.02-v1"] and es.count() == 12
    recleaned = before[1].model_copy(update={"title": "Tin old-1, re-cleaned"})
    es.index([recleaned])  # an article written again moves out of the single index
    assert where(es, recleaned.id) == [f"{es.alias}-2024.11-v1"] and es.count() == 12
    assert es.search(SearchQuery(text="lu quet", collapse=False, limit=20)).total == 12

    gone = es.prune(datetime(2024, 10, 1, tzinfo=UTC))  # retention deletes from the single index too
    assert gone.deleted == {single: 1} and es.count() == 11  # old-undated, fetched in September

    result = es.reindex()
    assert result.retired == [single] and not result.rejected
    assert {m.month for m in result.months} == {"2024.10", "2024.11", "2024.12", "2025.02", "2999.12"}
    assert all(m.target.endswith("-v2") for m in result.months)
    assert set(es.live_indices()) == {m.target for m in result.months}
    assert es.count() == 11 and es._client.indices.exists(index=single)  # kept for the operator
    assert es.get(recleaned.id) == recleaned
    assert where(es, before[2].id) == [f"{es.alias}-2024.12-v2"]


def test_prune_command_on_elasticsearch_says_what_it_removed(
    make_es_backend: Make,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """`newsflow prune --older-than DAYS` (and --dry-run) names each index and what it took; under a day is refused."""
    es = make_es_backend()
    es.ensure_ready()
    now = datetime.now(UTC)
    es.index([art("years-ago", now - timedelta(days=800)), art("today", now)])
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ELASTICSEARCH_URL", es.url)
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_INDEX", es.alias)
    old_month = month_of(now - timedelta(days=800))
    assert main(["prune", "--older-than", "400", "--dry-run"]) == 0
    assert "would remove 1 article(s)" in capsys.readouterr().out and es.count() == 2
    assert main(["prune", "--older-than", "400"]) == 0
    out = capsys.readouterr().out
    assert "removed 1 article(s)" in out and f"{es.alias}-{old_month}-v1: the whole index, 1 article(s)" in out
    assert [a.title for a in es.iter_all()] == ["Tin today"]
    with pytest.raises(SystemExit) as refused:  # too young to prune: a usage error
        main(["prune", "--older-than", "0.5"])
    assert refused.value.code == 2


@pytest.mark.parametrize("kind", ["tantivy", "sqlite"])
def test_prune_deletes_the_older_articles_of_the_embedded_index(tmp_path: Path, kind: str) -> None:
    """Tantivy and SQLite delete the articles published, or undated and fetched, before the cutoff."""
    backend = TantivyBackend(tmp_path / "index.tantivy") if kind == "tantivy" else SqliteBackend(tmp_path / "i.sqlite3")
    try:
        backend.ensure_ready()
        first = art("first", day(2025, 1, 5))
        kept = [art("late", day(2025, 1, 25)), art("undated-late", fetched=day(2025, 2)), art("nodate")]
        doomed = [first, art("dup", day(2025, 1, 6), cluster_id=first.id), art("undated", fetched=day(2024, 12))]
        backend.index([*doomed, *kept])
        cutoff = datetime(2025, 1, 10, tzinfo=UTC)
        plan = backend.prune(cutoff, dry_run=True)
        assert plan.articles == 3 and backend.count() == 6
        assert backend.prune(cutoff).articles == 3
        assert sorted(a.id for a in backend.iter_all()) == sorted(a.id for a in kept)
        assert backend.search(SearchQuery(text="lu quet")).total == 3
        assert backend.prune(cutoff).articles == 0
    finally:
        backend.close()


def test_a_backend_used_without_ensure_ready_still_gives_a_new_month_its_mappings(make_es_backend: Make) -> None:
    """The template is put before a process's first month is created, ensure_ready() or not."""
    es = make_es_backend()
    es.index([art("no-setup", day(2025, 6))])
    name = f"{es.alias}-2025.06-v1"
    assert es._client.indices.get_mapping(index=name).body[name]["mappings"]["dynamic"] == "strict"
    assert es.count() == 1


def test_the_shards_setting_reaches_each_new_monthly_index(make_es_backend: Make) -> None:
    """NEWSFLOW_ELASTICSEARCH_SHARDS goes into the template, so a new month has that many shards."""
    es = make_es_backend(shards=2)
    es.ensure_ready()
    es.index([art("shards", day(2025, 5))])
    name = f"{es.alias}-2025.05-v1"
    settings = es._client.indices.get_settings(index=name).body[name]["settings"]["index"]
    assert str(settings["number_of_shards"]) == "2"


def test_reindex_command_on_elasticsearch_says_what_each_month_became(
    make_es_backend: Make, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`newsflow reindex` prints each month's new index, its sources and documents, and the retired index."""
    es = make_es_backend()
    single = single_index_deployment(es, [art("before", day(2024, 8))])
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ELASTICSEARCH_URL", es.url)
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH_INDEX", es.alias)
    assert main(["reindex"]) == 0
    out = capsys.readouterr().out
    assert f"2024.08: {es.alias}-2024.08-v2 from {single}, 1 document(s)" in out
    assert "reindexed 1 month(s), 1 document(s)" in out
    assert f"{single}, the single index from before the monthly ones, is out of the alias" in out
    assert es.count() == 1


def test_a_month_started_by_a_writer_while_a_single_index_is_split_keeps_its_articles(make_es_backend: Make) -> None:
    """A writer starting a month that reindex is building (v2) makes v1; the swap copies its article."""
    es = make_es_backend(batch_size=2)
    single_index_deployment(es, [art(f"aug-{i}", day(2024, 8, 1 + i)) for i in range(5)])
    es.ensure_ready()
    late = art("aug-late", day(2024, 8, 28))

    def write_midway(done: int, total: int) -> None:
        if done == 2 and es.get(late.id) is None:  # August is being built as v2: the writer starts v1
            es.index([late])

    result = es.reindex(progress=write_midway)
    august = next(m for m in result.months if m.month == "2024.08")
    assert august.target == f"{es.alias}-2024.08-v2" and august.caught_up == 1
    assert set(es.live_indices()) == {f"{es.alias}-2024.08-v2"}
    assert es.count() == 6 and es.get(late.id) == late
