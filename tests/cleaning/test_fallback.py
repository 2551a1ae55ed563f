"""The last resort when the extractor finds nothing: the page's densest block of prose. Pure code."""

from __future__ import annotations

import numpy as np
from lxml import html as lxml_html

from pipeline.cleaning import clean_page
from pipeline.cleaning.features import FEATURES
from pipeline.cleaning.model import BlockModel
from pipeline.fallback import fallback_paragraphs

URL = "https://journal-des-vallees.example/region/la-passerelle-sera-construite-2025-312.html"
STORY = [
    "Le conseil municipal a voté mardi soir le budget de la nouvelle passerelle sur la rivière.",
    "Les travaux commenceront au printemps et dureront dix-huit mois, selon les services techniques.",
    "Les habitants des deux rives réclamaient un passage depuis la fin du bac en 2019, rappelle le maire.",
    "Le coût total est estimé à deux millions d'euros, financés pour moitié par la région.",
    "Une réunion publique présentera le chantier aux riverains le premier lundi du mois prochain.",
    "Les commerçants du quai espèrent que la passerelle ramènera des clients sur la rive gauche.",
]
MENU = '<nav><ul><li><a href="/">Accueil</a></li><li><a href="/region/">Région</a></li></ul></nav>'


def _never_article() -> BlockModel:
    """A classifier that keeps no block: one leaf per output, far below even odds."""
    one = np.zeros(1, dtype=np.int32)
    return BlockModel(
        feature=np.full(2, -1, dtype=np.int32),
        threshold=np.zeros(2),
        left=np.arange(2, dtype=np.int32),
        right=np.arange(2, dtype=np.int32),
        value=np.full(2, -12.0, dtype=np.float32),
        roots=np.arange(2, dtype=np.int32),
        tree_class=np.concatenate([one, one + 1]),
        depth=0,
        features=tuple(FEATURES),
        meta={},
        kind="article_teaser",
    )


def _aside_story() -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in STORY)
    story = f"<div class='sidebar-sticky'><aside><article><div class='article-content'>{paras}</div></article></aside></div>"
    return f"<html><body>{MENU}{story}</body></html>".encode()


def test_a_story_set_inside_an_aside_is_not_dropped_as_empty() -> None:
    """Some sites put the whole story in an <aside>, where sidebars usually are: it is read whole."""
    cleaned = clean_page(_aside_story(), URL)
    for para in STORY:
        assert para in cleaned.body


def test_when_the_classifier_keeps_nothing_the_fallbacks_read_the_story() -> None:
    """A page the classifier gives up on goes to trafilatura, which skips an <aside>; the
    page's densest prose is read instead."""
    cleaned = clean_page(_aside_story(), URL, model=_never_article())
    assert cleaned.extractor == "fallback"
    for para in STORY:
        assert para in cleaned.body


def test_the_densest_prose_wins_and_br_runs_are_paragraphs() -> None:
    """Text runs between <br>s count as paragraphs; navigation and link lists do not."""
    links = "".join(f'<p><a href="/a{i}">Un autre article du jour, numéro {i}</a></p>' for i in range(20))
    root = lxml_html.document_fromstring(
        f"<html><body>{MENU}<div id='liens'>{links}</div>"
        f"<table><tr><td>{'<br><br>'.join(STORY)}</td></tr></table></body></html>"
    )
    assert fallback_paragraphs(root) == STORY


def test_a_page_without_enough_prose_gives_nothing() -> None:
    """A menu and a line are not an article: the page stays dropped."""
    root = lxml_html.document_fromstring(f"<html><body>{MENU}<div><p>{STORY[0]}</p></div></body></html>")
    assert fallback_paragraphs(root) == []


def _plain_story(paras: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return f"<html><body>{MENU}<main><article><h1>La passerelle</h1>{body}</article></main></body></html>".encode()


MORE = [
    "Le chantier fermera le quai nord aux voitures pendant deux mois, l'été prochain.",
    "Une navette gratuite reliera le parking de la gare au marché couvert pendant les travaux.",
    "L'opposition municipale a voté contre, jugeant le calendrier trop serré avant les élections.",
    "Le maire a répondu que les subventions régionales seraient perdues si le vote était repoussé.",
]


def test_a_classifier_keeping_under_half_of_trafilaturas_reading_gives_the_page_up() -> None:
    """Keeping three paragraphs of ten is giving up (trafilatura's full reading is taken);
    keeping six is not (the classifier's choice stands)."""
    from pipeline.cleaning.page import _reading_given_up, read_page

    paras = STORY + MORE
    page = read_page(_plain_story(paras), URL)
    read = _reading_given_up(page, URL, paras[:3])
    assert read is not None
    for para in paras:
        assert para in read
    assert _reading_given_up(page, URL, paras[:6]) is None
