"""One behaviour for every search backend: the same tests run on Tantivy, SQLite and Elasticsearch.

They assert which documents match and in which order where order is part of the contract,
never scores.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.models import Article, RelatedLink, article_id
from pipeline.search.base import SearchBackend, SearchQuery
from pipeline.search.sqlite import SqliteBackend
from pipeline.search.tantivy import TantivyBackend

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def art(slug: str, *, days: float = 0, **fields: Any) -> Article:
    """An article published `days` after T0, on site a.example unless told otherwise."""
    url = f"https://{fields.get('site', 'a.example')}/{slug}"
    base: dict[str, Any] = {
        "id": article_id(url),
        "url": url,
        "canonical_url": url,
        "site": "a.example",
        "title": slug.replace("-", " ").title(),
        "body": f"Body of {slug}.",
        "language": "en",
        "published_at": T0 + timedelta(days=days),
    }
    base.update(fields)
    return Article(**base)


@pytest.fixture(params=["tantivy", "sqlite", "elasticsearch"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchBackend]:
    if request.param == "tantivy":
        b: Any = TantivyBackend(tmp_path / "index.tantivy")
    elif request.param == "sqlite":
        b = SqliteBackend(tmp_path / "index.sqlite3")
    else:
        make: Callable[..., Any] = request.getfixturevalue("make_es_backend")
        b = make()
    b.ensure_ready()
    b.ensure_ready()  # safe to call twice
    yield b
    if request.param != "elasticsearch":
        b.close()  # make_es_backend drops and closes its own


def ids(page: Any) -> list[str]:
    return [h.id for h in page.hits]


def test_index_then_get_returns_the_same_article(backend: SearchBackend) -> None:
    a = art(
        "round-trip",
        authors=["Nguyễn Văn A"],
        tags=["thời sự"],
        related=[RelatedLink(url="https://a.example/other", title="Khác")],
        cluster_id="c-1",
        summary="Tóm tắt",
    )
    outcome = backend.index([a])
    assert outcome.indexed == [a.id] and not outcome.rejected
    assert backend.get(a.id) == a
    assert backend.get("no-such-id") is None
    assert backend.count() == 1


def test_indexing_the_same_id_again_overwrites(backend: SearchBackend) -> None:
    a = art("story", title="First title")
    backend.index([a])
    backend.index([a.model_copy(update={"title": "Second title"})])
    assert backend.count() == 1
    got = backend.get(a.id)
    assert got is not None and got.title == "Second title"
    assert ids(backend.search(SearchQuery(text="second"))) == [a.id]
    assert ids(backend.search(SearchQuery(text="first"))) == []


def test_delete_removes_the_document(backend: SearchBackend) -> None:
    a, b = art("one"), art("two")
    backend.index([a, b])
    assert backend.delete(a.id) is True
    assert backend.get(a.id) is None
    assert backend.delete(a.id) is False
    assert backend.count() == 1
    assert ids(backend.search(SearchQuery())) == [b.id]


VI = art(
    "chinh-quyen",
    title="Chính quyền thân thiện",
    body="Chính quyền thân thiện với người dân. Đề án mới được thông qua hôm nay.",
    language="vi",
)
OTHER = art("weather", title="Weather today", body="Sunny with some clouds.")


@pytest.mark.parametrize(
    "text",
    [
        "chinh quyen than thien",
        "Chính quyền thân thiện",
        unicodedata.normalize("NFD", "Chính quyền thân thiện"),
        "CHINH QUYEN",
        "Đề án",
        "de an",
        "DE AN",
    ],
)
def test_search_ignores_diacritics_both_ways(backend: SearchBackend, text: str) -> None:
    backend.index([VI, OTHER])
    assert ids(backend.search(SearchQuery(text=text))) == [VI.id]


def test_decomposed_text_is_found_like_composed_text(backend: SearchBackend) -> None:
    nfd = art("nfd", title=unicodedata.normalize("NFD", "Thủ tướng"), body=unicodedata.normalize("NFD", "Đường phố"))
    backend.index([nfd, OTHER])
    for text in ("Thủ tướng", "thu tuong", "đường", "duong"):
        assert ids(backend.search(SearchQuery(text=text))) == [nfd.id], text


def test_every_query_word_must_match(backend: SearchBackend) -> None:
    both = art("both", title="Flood warning", body="Heavy rain in the delta.")
    one = art("one", title="Flood season", body="Nothing about the weather.")
    backend.index([both, one])
    assert ids(backend.search(SearchQuery(text="flood rain"))) == [both.id]
    assert sorted(ids(backend.search(SearchQuery(text="flood")))) == sorted([both.id, one.id])


def test_a_title_match_ranks_above_a_body_only_match(backend: SearchBackend) -> None:
    in_body = art(
        "body-only", title="Market report", body="The harbour was quiet; later a typhoon was mentioned.", days=2
    )
    in_title = art("in-title", title="Typhoon nears the coast", body="Ships return to the harbour.", days=1)
    backend.index([in_body, in_title])
    assert ids(backend.search(SearchQuery(text="typhoon"))) == [in_title.id, in_body.id]


def test_filters_by_site_language_and_dates(backend: SearchBackend) -> None:
    a = art("a", site="a.example", language="en", days=0)
    b = art("b", site="b.example", language="vi", days=1)
    c = art("c", site="b.example", language="en", days=2)
    backend.index([a, b, c])
    assert ids(backend.search(SearchQuery(site="b.example"))) == [c.id, b.id]
    assert ids(backend.search(SearchQuery(language="en"))) == [c.id, a.id]
    assert ids(backend.search(SearchQuery(site="b.example", language="en"))) == [c.id]
    assert ids(backend.search(SearchQuery(since=T0 + timedelta(days=1)))) == [c.id, b.id]
    assert ids(backend.search(SearchQuery(until=T0 + timedelta(days=1)))) == [a.id]
    assert ids(backend.search(SearchQuery(text="body", site="a.example"))) == [a.id]


def test_empty_query_lists_everything_newest_first(backend: SearchBackend) -> None:
    docs = [art(f"d{i}", days=d) for i, d in enumerate([3, 1, 4, 0, 2])]
    undated = art("undated", published_at=None)
    backend.index([*docs, undated])
    page = backend.search(SearchQuery(limit=10))
    newest_first = [d.id for d in sorted(docs, key=lambda d: d.published_at or T0, reverse=True)]
    assert ids(page) == [*newest_first, undated.id]
    assert page.total == 6


def test_snippets_mark_the_matched_words(backend: SearchBackend) -> None:
    backend.index([VI, OTHER])
    snippet = backend.search(SearchQuery(text="than thien")).hits[0].snippet
    assert "<mark>thân</mark>" in snippet and "<mark>thiện</mark>" in snippet


def test_collapse_keeps_one_hit_per_cluster(backend: SearchBackend) -> None:
    members = [art(f"copy-{i}", title=f"Storm copy {i}", cluster_id="storm", days=i) for i in range(3)]
    alone = art("alone", title="Storm elsewhere", days=0.5)
    backend.index([*members, alone])

    page = backend.search(SearchQuery())
    assert ids(page) == [members[2].id, alone.id]  # the newest member stands for its cluster
    assert [h.cluster_size for h in page.hits] == [3, 1]
    assert page.hits[0].cluster_id == "storm"
    assert page.total == 2

    full = backend.search(SearchQuery(collapse=False))
    assert ids(full) == [members[2].id, members[1].id, alone.id, members[0].id]
    assert full.total == 4
    assert all(h.cluster_size == 1 for h in full.hits)

    texted = backend.search(SearchQuery(text="storm copy"))
    assert len(texted.hits) == 1 and texted.hits[0].cluster_size == 3


def test_a_cluster_filter_lists_the_copies_of_one_story(backend: SearchBackend) -> None:
    """cluster=<a hit's cluster_id> with collapse off gives every copy that matches, newest first."""
    copies = [
        art(f"flood-{i}", title=f"Flood copy {i}", site=f"s{i}.example", cluster_id="flood", days=i) for i in range(3)
    ]
    alone = art("alone", title="Flood elsewhere", days=1.5)
    backend.index([*copies, alone])
    page = backend.search(SearchQuery(text="flood"))
    assert sorted(h.cluster_size for h in page.hits) == [1, 3]
    hit = next(h for h in page.hits if h.cluster_size == 3)
    members = backend.search(SearchQuery(text="flood", cluster=hit.cluster_id, collapse=False))
    assert ids(members) == [copies[2].id, copies[1].id, copies[0].id]
    assert members.total == 3
    assert ids(backend.search(SearchQuery(cluster=alone.id, collapse=False))) == [alone.id]  # alone: its own cluster
    narrowed = backend.search(SearchQuery(cluster="flood", site="s1.example", collapse=False))
    assert ids(narrowed) == [copies[1].id]


def test_facets_count_sites_languages_and_days(backend: SearchBackend) -> None:
    backend.index(
        [
            art("a1", site="a.example", language="en", days=0),
            art("a2", site="a.example", language="vi", days=0.1),
            art("b1", site="b.example", language="vi", days=1),
            art("b2", site="b.example", language="vi", days=1.1, cluster_id="k"),
            art("b3", site="b.example", language="vi", days=1.2, cluster_id="k"),
        ]
    )
    flat = backend.search(SearchQuery(facets=True, collapse=False)).facets
    assert flat["site"] == {"b.example": 3, "a.example": 2}
    assert flat["language"] == {"vi": 4, "en": 1}
    assert flat["published"] == {"2024-05-01": 2, "2024-05-02": 3}

    collapsed = backend.search(SearchQuery(facets=True)).facets
    assert collapsed["site"] == {"a.example": 2, "b.example": 2}
    assert collapsed["published"] == {"2024-05-01": 2, "2024-05-02": 2}

    # One story carried by two sites on two days counts once under each site and each day.
    backend.index(
        [
            art("c1", site="c.example", language="vi", days=3, cluster_id="shared"),
            art("d1", site="d.example", language="vi", days=4, cluster_id="shared"),
        ]
    )
    spread = backend.search(SearchQuery(facets=True, since=T0 + timedelta(days=3))).facets
    assert spread["site"] == {"c.example": 1, "d.example": 1}
    assert spread["published"] == {"2024-05-04": 1, "2024-05-05": 1}
    assert spread["language"] == {"vi": 1}

    filtered = backend.search(SearchQuery(facets=True, collapse=False, language="en")).facets
    assert filtered["site"] == {"a.example": 1}
    assert backend.search(SearchQuery()).facets == {}


@pytest.mark.parametrize("collapse", [False, True])
@pytest.mark.parametrize("text", ["", "page"])
def test_cursor_pages_visit_every_document_once(backend: SearchBackend, collapse: bool, text: str) -> None:
    docs = [art(f"p{i:02d}", title=f"Page item {i}", body="page " * (i % 4 + 1), days=i % 9) for i in range(23)]
    backend.index(docs)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = backend.search(SearchQuery(text=text, limit=5, collapse=collapse, search_after=cursor))
        assert page.total == 23
        seen += ids(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == {d.id for d in docs}
    # Pages continue one order: the first 10 of a single query are the first 10 paged.
    assert seen[:10] == ids(backend.search(SearchQuery(text=text, limit=10, collapse=collapse)))


def test_collapsed_pages_show_each_story_once_across_pages(backend: SearchBackend) -> None:
    """Paging a collapsed search, each cluster appears once, by its best member, in the one-query order."""
    docs = [
        art(f"s{i:02d}", title=f"Story {i}", days=i % 7, cluster_id=f"k{i % 5}" if i % 3 else None) for i in range(20)
    ]
    backend.index(docs)
    whole = backend.search(SearchQuery(text="story", limit=50))
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = backend.search(SearchQuery(text="story", limit=3, search_after=cursor))
        assert page.total == whole.total
        seen += ids(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids(whole)
    clusters = [backend.get(i).cluster_id or i for i in seen]  # type: ignore[union-attr]
    assert len(clusters) == len(set(clusters)) == whole.total


def test_iter_all_yields_every_document_in_id_order(backend: SearchBackend) -> None:
    docs = [art(f"it{i}") for i in range(7)]
    backend.index(docs)
    assert [a.id for a in backend.iter_all()] == sorted(d.id for d in docs)


SYNTAX = [
    art("a", title="Flood warning", body="Heavy rain in the delta. Người dân sơ tán.", days=2),
    art("b", title="Flood season", body="Nothing heavy about the warning or the rain.", days=1),
    art("c", site="b.example", language="vi", title="Storm warning", body="Wind and rain.", days=0),
    art("d", site="The Highland Herald", title="Tea harvest", body="Pickers on the hill.", days=3),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"heavy rain"', ["a"]),
        ('"rain heavy"', []),
        ('"nguoi dan" flood', ["a"]),
        ("flood -season", ["a"]),
        ('flood -"the warning"', ["a"]),
        ("-flood", ["c", "d"]),
        ("delta OR wind", ["a", "c"]),
        ("warning delta OR wind", ["a", "c"]),
        ("site:b.example warning", ["c"]),
        ("site:B.Example", ["c"]),
        ('site:"The Highland Herald"', ["d"]),
        ('tea Site:"The Highland Herald', ["d"]),
        ("site:the", []),
        ("✓😀 !!!", []),  # no word to find: nothing, not everything
        ("", ["a", "b", "c", "d"]),
        ("lang:vi", ["c"]),
        ("warning lang:en", ["a", "b"]),
    ],
)
def test_query_syntax_means_the_same_on_every_backend(backend: SearchBackend, text: str, expected: list[str]) -> None:
    """Phrases, -exclusions, OR, site: and lang: (pipeline.search.query) select the same documents."""
    backend.index(SYNTAX)
    by_slug = {a.url.rsplit("/", 1)[1]: a.id for a in SYNTAX}
    found = backend.search(SearchQuery(text=text, collapse=False))
    assert sorted(ids(found)) == sorted(by_slug[s] for s in expected)
    assert found.total == len(expected)


def test_a_site_in_the_text_and_another_in_the_filter_find_nothing(backend: SearchBackend) -> None:
    backend.index(SYNTAX)
    page = backend.search(SearchQuery(text="site:b.example", site="a.example", facets=True))
    assert page.total == 0 and page.hits == []
    assert page.facets == {"site": {}, "language": {}, "published": {}}


def test_sort_by_date_puts_the_newest_first_whatever_the_score(backend: SearchBackend) -> None:
    older = art("older", title="Typhoon typhoon", body="Typhoon nears.", days=0)
    newer = art("newer", title="Harbour news", body="A typhoon was mentioned.", days=1)
    backend.index([older, newer])
    assert ids(backend.search(SearchQuery(text="typhoon"))) == [older.id, newer.id]
    assert ids(backend.search(SearchQuery(text="typhoon", sort="date"))) == [newer.id, older.id]
    with pytest.raises(ValueError, match="sort"):
        backend.search(SearchQuery(text="typhoon", sort="oldest"))


def test_relevance_gently_prefers_recent_news(backend: SearchBackend) -> None:
    """A story of this week outranks an older one that matches a little better."""
    now = datetime.now(UTC)
    old = art(
        "old-rain",
        title="Weather",
        body="Rain and more rain over the hills today.",
        published_at=now - timedelta(days=60),
    )
    recent = art(
        "new-rain",
        title="Weather",
        body="Rain over the hills and the coast today.",
        published_at=now - timedelta(days=1),
    )
    backend.index([old, recent])
    assert ids(backend.search(SearchQuery(text="rain"))) == [recent.id, old.id]


def test_a_story_keeps_its_counts_when_copies_are_deleted_or_move(backend: SearchBackend) -> None:
    """Whichever copy goes, or joins another story, the story is still counted once per site and day."""
    copies = [art(f"k{i}", site="b.example", cluster_id="k", days=i / 10) for i in range(4)]
    backend.index(copies)
    first, second, third, _fourth = sorted(copies, key=lambda a: a.id)
    backend.delete(first.id)
    backend.index([second.model_copy(update={"cluster_id": "elsewhere"})])
    page = backend.search(SearchQuery(facets=True))
    assert page.total == 2
    assert page.facets["site"] == {"b.example": 2}
    assert page.facets["published"] == {"2024-05-01": 2}
    assert sorted(h.cluster_size for h in page.hits) == [1, 2]
    backend.delete(third.id)
    assert backend.search(SearchQuery(facets=True)).facets["language"] == {"en": 2}
