"""An article's identity: a canonical link that names a listing is not the article's URL."""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest import PageRef, ProcessDeps, process_page, trusted_canonical
from pipeline.storage import DirectoryRawStore

PAGE = "https://tin.example/xa-hoi/2025/03/khoi-cong-cau-moi.html"


def test_a_canonical_naming_another_article_url_is_followed() -> None:
    """The usual case: tracking-free or moved URL of the same article becomes its identity."""
    other = "https://tin.example/xa-hoi/khoi-cong-cau-moi-123.html"
    assert trusted_canonical(other, PAGE) == other


def test_a_canonical_to_the_site_root_is_ignored() -> None:
    """Every page declaring the home page as canonical would fold all articles into one."""
    assert trusted_canonical("https://tin.example/", PAGE) == PAGE
    assert trusted_canonical("https://tin.example", PAGE) == PAGE


def test_a_canonical_to_a_section_above_the_article_is_ignored() -> None:
    """A section or date listing the article sits under names the listing, not the article."""
    assert trusted_canonical("https://tin.example/xa-hoi/", PAGE) == PAGE
    assert trusted_canonical("https://tin.example/xa-hoi/2025/03", PAGE) == PAGE


def test_no_canonical_or_the_same_url_keeps_the_fetched_url() -> None:
    assert trusted_canonical(None, PAGE) == PAGE
    assert trusted_canonical(PAGE, PAGE) == PAGE


def test_the_home_page_itself_may_be_canonical_of_itself() -> None:
    """A feed entry that is the home page (rare, but real) keeps the root as its identity."""
    assert trusted_canonical("https://tin.example/", "https://tin.example/?utm_source=x") == "https://tin.example/"


def test_two_articles_declaring_the_home_page_as_canonical_stay_two(tmp_path: Path) -> None:
    """Through the process step: pages of a misconfigured site keep their own ids and URLs."""
    store = DirectoryRawStore(tmp_path)
    ids = set()
    for slug, words in (("ba-be", "Hồ Ba Bể đón khách"), ("na-hang", "Thủy điện Na Hang xả lũ")):
        paragraphs = "".join(
            f"<p>{words} trong mùa mưa năm nay, đoạn {i} kể chuyện người dân địa phương.</p>" for i in range(6)
        )
        html = (
            '<html lang="vi"><head><meta charset="utf-8"><title>' + words + "</title>"
            '<link rel="canonical" href="https://tin.example/"></head><body><article><h1>'
            + words
            + "</h1>"
            + paragraphs
            + "</article></body></html>"
        )
        url = f"https://tin.example/du-lich/{slug}.html"
        page = PageRef(url=url, final_url=url, ref=store.put(html.encode()), fetched_at="2025-03-01T00:00:00+00:00")
        article = process_page(page, ProcessDeps(store=store)).article
        assert article.canonical_url == url
        ids.add(article.id)
    assert len(ids) == 2
