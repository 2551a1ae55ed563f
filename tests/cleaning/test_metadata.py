"""What a page declares about itself: meta tags, JSON-LD, byline markup. Pure code."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lxml import html as lxml_html

from pipeline.metadata import read_metadata

URL = "https://diario-del-altiplano.example/sociedad/la-feria-del-libro-abre-sus-puertas-2025-881.html"


def parsed(head: str = "", body: str = "<p>Texto.</p>", lang: str = "es") -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(f"<html lang='{lang}'><head>{head}</head><body>{body}</body></html>")


def json_ld(obj: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(obj, ensure_ascii=False)}</script>'


STORY = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    "headline": "La feria del libro abre sus puertas",
    "datePublished": "2025-04-23T09:30:00-04:00",
    "author": [{"@type": "Person", "name": "Lucía Quispe"}, {"@type": "Person", "name": "Mario Condori"}],
    "publisher": {"@type": "Organization", "name": "Diario del Altiplano"},
    "articleSection": "Sociedad",
    "keywords": ["libros", "cultura"],
    "image": {"@type": "ImageObject", "url": "https://diario-del-altiplano.example/img/feria.jpg"},
}


def test_json_ld_fills_what_the_meta_tags_do_not_say() -> None:
    """Headline, date, authors (people), publisher, section, keywords and image come from the story's JSON-LD."""
    meta = read_metadata(parsed(json_ld(STORY)), URL)
    assert meta.title == "La feria del libro abre sus puertas"
    assert meta.published_at == datetime(2025, 4, 23, 13, 30, tzinfo=UTC)
    assert meta.authors == ["Lucía Quispe", "Mario Condori"]
    assert meta.site_name == "Diario del Altiplano"
    assert meta.section == "Sociedad"
    assert meta.tags == ["libros", "cultura"]
    assert meta.image == "https://diario-del-altiplano.example/img/feria.jpg"
    assert meta.language == "es"


def test_meta_tags_outrank_json_ld_and_a_graph_is_searched() -> None:
    """Open Graph and article meta tags come first; a story inside @graph is found."""
    head = (
        '<meta property="og:title" content="Abre la feria del libro">'
        '<meta property="article:published_time" content="2025-04-22T08:00:00Z">'
        + json_ld({"@graph": [{"@type": "WebSite", "name": "Diario"}, STORY]})
    )
    meta = read_metadata(parsed(head), URL)
    assert meta.title == "Abre la feria del libro"
    assert meta.published_at == datetime(2025, 4, 22, 8, 0, tzinfo=UTC)
    assert meta.authors == ["Lucía Quispe", "Mario Condori"]


def test_broken_json_ld_is_ignored() -> None:
    """A script that is not JSON, or JSON of the wrong shapes, adds nothing and breaks nothing."""
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>'
        + json_ld({"@type": "NewsArticle", "headline": 7, "author": {"name": 5}, "datePublished": None})
        + "<title>La feria del libro</title>"
    )
    meta = read_metadata(parsed(head), URL)
    assert meta.title == "La feria del libro"
    assert meta.authors == []
    assert meta.published_at is None


def test_an_organisation_is_the_author_only_when_no_person_is_named() -> None:
    story = {**STORY, "author": [{"@type": "Organization", "name": "Agencia Andina"}]}
    assert read_metadata(parsed(json_ld(story)), URL).authors == ["Agencia Andina"]
    story = {**STORY, "author": [{"@type": "Organization", "name": "Agencia Andina"}, {"name": "Lucía Quispe"}]}
    assert read_metadata(parsed(json_ld(story)), URL).authors == ["Lucía Quispe"]


def test_byline_markup_names_the_author_when_nothing_is_declared() -> None:
    """A byline element gives the author, its "By"/"Por" cut; a reader's name under a comment does not."""
    body = (
        '<div class="comments"><span class="comment-author">Lector Anónimo</span></div>'
        '<p class="byline">Por Lucía Quispe</p><p>La feria abrió con cien editoriales.</p>'
    )
    assert read_metadata(parsed(body=body), URL).authors == ["Lucía Quispe"]
    bio = f'<div class="author-box">{"Lucía escribe sobre cultura desde hace veinte años. " * 3}</div>'
    assert read_metadata(parsed(body=bio), URL).authors == []


def test_a_date_shown_in_the_markup_is_found_when_none_is_declared() -> None:
    """Without a declared date, a <time> element or the markup's own date is used; a bare year is not."""
    timed = '<p>Publicado el <time datetime="2025-04-23">23 de abril</time></p>'
    assert read_metadata(parsed(body=timed), URL).published_at == datetime(2025, 4, 23)
    assert read_metadata(parsed(body="<p>© 2024 Diario del Altiplano</p>"), URL).published_at is None


def test_a_canonical_link_to_another_site_is_not_followed() -> None:
    head = '<link rel="canonical" href="https://otro-sitio.example/copia-de-la-nota.html">'
    assert read_metadata(parsed(head), URL).canonical_url is None
    head = '<link rel="canonical" href="/sociedad/la-feria-del-libro-abre-sus-puertas-2025-881.html?utm_source=x">'
    assert read_metadata(parsed(head), URL).canonical_url == URL
