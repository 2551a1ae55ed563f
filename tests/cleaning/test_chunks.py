"""A story split into chunks by adverts: the chunks the extractor left out are found again."""

from __future__ import annotations

from lxml import html as lxml_html

from pipeline.chunks import missing_chunks

FIRST = [
    "Die Stadtwerke haben am Montag den Bau des neuen Wasserwerks am Nordufer begonnen, zwei Jahre später als geplant.",
    "Nach Angaben der Betreiber soll die Anlage ab dem kommenden Herbst rund vierzigtausend Haushalte versorgen.",
]
SECOND = [
    "Der Gemeinderat hatte das Projekt im Frühjahr nach einer langen Debatte über die Kosten mit knapper Mehrheit gebilligt.",
    "Anwohner am Nordufer fürchten vor allem den Baulärm, der nach dem Zeitplan bis in den Sommer andauern wird.",
]
THIRD = [
    "Die Stadtwerke wollen deshalb an den Wochenenden nicht bauen und eine Sprechstunde im Rathaus anbieten.",
    "Die Kosten des Wasserwerks werden inzwischen auf knapp achtzig Millionen Euro geschätzt, zehn mehr als geplant.",
]


def chunk(paragraphs: list[str], cls: str = "story-body") -> str:
    return f'<div class="{cls}">' + "".join(f"<p>{p}</p>" for p in paragraphs) + "</div>"


def tree(middle: str) -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(f"<html><body><main>{middle}</main></body></html>")


ADVERT = '<div class="ad-slot"><span>Anzeige</span></div>'


def test_chunks_after_adverts_are_found_in_order() -> None:
    """The extractor kept the first chunk; the two after the adverts come back, in page order."""
    root = tree(chunk(FIRST) + ADVERT + chunk(SECOND) + ADVERT + chunk(THIRD))
    before, after = missing_chunks(root, FIRST)
    assert before == []
    assert after == SECOND + THIRD


def test_a_chunk_before_the_extracted_one_is_found_too() -> None:
    root = tree(chunk(FIRST) + ADVERT + chunk(SECOND))
    before, after = missing_chunks(root, SECOND)
    assert (before, after) == (FIRST, [])


def test_the_next_story_of_an_endless_page_is_not_a_chunk() -> None:
    """A same-kind container with its own headline and date is another article."""
    other = '<div class="story-body"><h1>Neue Buslinie ab Dezember</h1><time datetime="2025-11-02">2. November</time>'
    other += "".join(f"<p>{p}</p>" for p in THIRD) + "</div>"
    root = tree(chunk(FIRST) + ADVERT + other)
    assert missing_chunks(root, FIRST) == ([], [])


def test_side_by_side_boxes_and_short_boxes_are_not_chunks() -> None:
    """Same-kind blocks with nothing between them are sections of a page; a box of one line is not prose."""
    root = tree(chunk(FIRST) + chunk(SECOND))
    assert missing_chunks(root, FIRST) == ([], [])
    root = tree(chunk(FIRST) + ADVERT + chunk(["Über die Autorin: Lena Vogt schreibt über Stadtpolitik."]))
    assert missing_chunks(root, FIRST) == ([], [])


def test_chunks_of_another_kind_or_behind_long_text_are_left_alone() -> None:
    root = tree(chunk(FIRST) + ADVERT + chunk(SECOND, cls="comments"))
    assert missing_chunks(root, FIRST) == ([], [])
    long_filler = f'<div class="teaser-box"><p>{" ".join(THIRD)}</p></div>'
    root = tree(chunk(FIRST) + long_filler + chunk(SECOND))
    assert missing_chunks(root, FIRST) == ([], [])
