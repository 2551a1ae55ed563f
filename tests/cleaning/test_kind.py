"""The page-kind model: what it reads of a page, its trees, and what cleaning does with its answer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.cleaning import page as cleaning_page
from pipeline.cleaning.features import block_features, host_of
from pipeline.cleaning.kind import NOT_ARTICLE_SCORE, PAGE_FEATURES, page_features, shipped_kind_model
from pipeline.cleaning.model import from_lightgbm
from pipeline.cleaning.page import (
    LAYOUT_ROWS,
    UNSURE_NOT_ARTICLE,
    Block,
    _chrome_lines,
    _flattens_layout,
    _read_instead,
    _reads_more,
    block_fingerprint,
    clean_page,
    normalize_block,
    read_page,
)
from pipeline.errors import Dropped
from pipeline.ingest import PageRef, ProcessDeps, process_page
from pipeline.storage import DirectoryRawStore

STORY_URL = "https://diario-del-valle.example/2026/05/14/el-puente-viejo-reabre-tras-dos-anos.html"
STORY = """<!DOCTYPE html><html lang="es"><head><title>El puente viejo reabre tras dos años</title>
<meta property="og:type" content="article">
<meta property="article:published_time" content="2026-05-14T08:30:00+02:00">
<meta name="author" content="Lucía Ferrer">
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "El puente viejo reabre tras dos años"}</script>
</head><body>
<nav><a href="/">Portada</a> <a href="/local">Local</a> <a href="/deportes">Deportes</a></nav>
<article><h1>El puente viejo reabre tras dos años de obras</h1>
<p>El puente de piedra que une los dos barrios del pueblo volvió a abrirse al tráfico el jueves por la mañana,
después de dos años de obras que costaron casi tres millones de euros.</p>
<p>Los vecinos del barrio alto, que durante las obras debían dar un rodeo de once kilómetros para llegar al
mercado, celebraron la reapertura con una comida en la plaza.</p>
<p>El ayuntamiento recordó que los camiones de más de doce toneladas seguirán sin poder cruzarlo, y que la
velocidad quedará limitada a treinta kilómetros por hora.</p>
<p>La obra reforzó los cimientos, que el río había socavado en las crecidas de los últimos inviernos, y
sustituyó la barandilla de hierro por otra de acero con la misma forma.</p>
</article>
<footer><p>© 2026 Diario del Valle</p></footer></body></html>"""

SECTION_URL = "https://diario-del-valle.example/deportes/"
_CARD = """<article class="card"><a href="/2026/05/{n:02d}/cronica-{n}.html"><img src="/img/{n}.jpg" alt=""></a>
<span class="label">Deportes</span><h3><a href="/2026/05/{n:02d}/cronica-{n}.html">Crónica de la jornada {n}:
el equipo local suma {n} puntos</a></h3><time datetime="2026-05-{n:02d}">{n} de mayo</time>
<p class="dek">Resumen breve del partido número {n}.</p></article>"""
SECTION = (
    """<!DOCTYPE html><html lang="es"><head><title>Deportes - Diario del Valle</title>
<meta property="og:type" content="website"></head><body>
<nav><a href="/">Portada</a> <a href="/local">Local</a> <a href="/deportes">Deportes</a></nav>
<main><h1>Deportes</h1><div class="grid">"""
    + "".join(_CARD.format(n=n) for n in range(1, 25))
    + """</div><nav class="pager"><a href="?page=2">Siguiente</a> <a href="?page=3">3</a></nav></main>
<footer><p>© 2026 Diario del Valle</p></footer></body></html>"""
)

SHOP_URL = "https://werkzeug-laden.example/produkte/akku-bohrschrauber-18v"
SHOP = """<!DOCTYPE html><html lang="de"><head><title>Akku-Bohrschrauber 18 V | Werkzeug-Laden</title>
<meta property="og:type" content="product">
<script type="application/ld+json">{"@type": "Product", "name": "Akku-Bohrschrauber 18 V",
"offers": {"@type": "Offer", "price": "89.90", "priceCurrency": "EUR"}}</script></head><body>
<nav><a href="/">Start</a> <a href="/produkte">Produkte</a> <a href="/warenkorb">Warenkorb</a></nav>
<main><h1>Akku-Bohrschrauber 18 V</h1><p class="price">89,90 €</p><p>inkl. MwSt., zzgl. Versand</p>
<form action="/warenkorb"><input type="number" name="menge" value="1"><button>In den Warenkorb</button></form>
<ul><li>2 Akkus, 2,0 Ah</li><li>Drehmoment 45 Nm</li><li>LED-Licht</li><li>Koffer</li></ul>
<table><tr><th>Gewicht</th><td>1,4 kg</td></tr><tr><th>Drehzahl</th><td>0-1500 U/min</td></tr>
<tr><th>Garantie</th><td>3 Jahre</td></tr></table>
<h2>Das könnte Ihnen auch gefallen</h2><ul>
<li><a href="/produkte/bitset">Bit-Set 32-teilig</a> <span>12,90 €</span></li>
<li><a href="/produkte/akku-2ah">Ersatzakku 2,0 Ah</a> <span>34,90 €</span></li>
<li><a href="/produkte/ladegeraet">Schnellladegerät</a> <span>29,90 €</span></li></ul></main>
<footer><p>© 2026 Werkzeug-Laden</p></footer></body></html>"""


GALLERY_URL = "https://fotoclub-haarlem.example/galerij/"
_PHOTOS = (
    "De molen bij zonsopkomst",
    "Kinderen op het ijs van de Spaarne",
    "Een reiger in de polder",
    "Het oude stadhuis in de mist",
    "Tulpenvelden na de regen",
    "De markt op zaterdagochtend",
    "Zeilboten op het Spaarne",
    "Een kat in de bibliotheek",
)
GALLERY = (
    """<!DOCTYPE html><html lang="nl"><head><title>Galerij | Fotoclub Haarlem</title>
<meta property="og:type" content="website"></head><body>
<nav><a href="/">Home</a> <a href="/galerij/">Galerij</a> <a href="/leden/">Leden</a></nav>
<main><h1>Galerij</h1><p>Foto's van onze leden uit het voorjaar.</p><div class="grid">"""
    + "".join(
        f'<figure class="foto"><img src="/img/{n}.jpg" alt=""><figcaption>{title}, foto van lid nummer {n + 3}'
        "</figcaption></figure>"
        for n, title in enumerate(_PHOTOS)
    )
    + """</div></main><footer><p>© 2026 Fotoclub Haarlem</p></footer></body></html>"""
)


def features_of(markup: str, url: str) -> dict[str, float]:
    page = read_page(markup.encode(), url)
    row = page_features(page, block_features(page.blocks, host_of(page.canonical)))
    assert row.shape == (1, len(PAGE_FEATURES))
    return dict(zip(PAGE_FEATURES, row[0].tolist(), strict=True))


def test_features_read_what_the_page_declares_and_its_address() -> None:
    story = features_of(STORY, STORY_URL)
    shop = features_of(SHOP, SHOP_URL)
    section = features_of(SECTION, SECTION_URL)
    assert (story["declared_story"], story["declared_product"]) == (1.0, 0.0)
    assert (shop["declared_story"], shop["declared_product"]) == (0.0, 1.0)
    assert section["og_website"] == 1.0 and story["og_website"] == 0.0
    assert story["path_year"] == 1.0 and shop["path_year"] == 0.0
    assert shop["path_product"] == 1.0 and story["path_product"] == 0.0
    assert story["has_date"] == 1.0 and story["has_author"] == 1.0
    assert shop["price_blocks"] > 0.0 and story["price_blocks"] == 0.0
    assert section["trailing_slash"] == 1.0 and story["trailing_slash"] == 0.0
    assert story["slug_words"] == 7.0  # el-puente-viejo-reabre-tras-dos-anos(.html): seven words
    # The 24 cards are cut as a teaser rail before the counts: the page is mostly teasers.
    assert section["teaser_share"] > 0.5 > story["teaser_share"]


def test_numpy_trees_score_a_binary_booster_as_lightgbm_does() -> None:
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(11)
    x = rng.normal(size=(500, 4))
    y = ((x[:, 0] + 0.5 * x[:, 2]) > 0.2).astype(int)
    params = {"objective": "binary", "num_leaves": 5, "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=20)
    model = from_lightgbm(booster.dump_model(), [f"f{i}" for i in range(4)], {})
    assert model.kind == "binary"
    assert np.allclose(model.scores(x)[:, 0], booster.predict(x), atol=1e-5)


def test_a_story_stays_an_article_and_is_read_by_the_classifier() -> None:
    cleaned = clean_page(STORY.encode(), STORY_URL)
    assert cleaned.not_article < NOT_ARTICLE_SCORE and cleaned.is_article
    assert cleaned.extractor == "classifier"
    assert "once kilómetros" in cleaned.body and "Portada" not in cleaned.body


@pytest.mark.parametrize(("markup", "url"), [(SECTION, SECTION_URL), (SHOP, SHOP_URL)], ids=["section", "shop"])
def test_a_section_front_and_a_shop_page_are_read_as_not_articles(markup: str, url: str) -> None:
    cleaned = clean_page(markup.encode(), url)
    assert cleaned.not_article >= NOT_ARTICLE_SCORE and not cleaned.is_article
    assert cleaned.extractor in {"trafilatura", "fallback"}
    assert cleaned.body  # read, not dropped: the operator sees its kind in the audit trail


def _pin_page_kind(monkeypatch: pytest.MonkeyPatch, score: float) -> None:
    """The page-kind model's answer fixed, to test what cleaning does with it."""
    monkeypatch.setattr(cleaning_page, "not_article_score", lambda page, x, model=None: score)


def test_a_page_likely_not_an_article_is_read_whole_when_that_reading_holds_much_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between UNSURE_NOT_ARTICLE and NOT_ARTICLE_SCORE: the section front, whose cards the
    teaser search cut, is read whole and keeps its cards; the story, whose whole reading holds
    no more than the classifier kept, stays the classifier's. Below it the section front has
    no text left."""
    unsure = (UNSURE_NOT_ARTICLE + NOT_ARTICLE_SCORE) / 2
    _pin_page_kind(monkeypatch, unsure)
    section = clean_page(SECTION.encode(), SECTION_URL)
    assert section.extractor == "trafilatura" and section.is_article  # indexed as before
    assert "Crónica de la jornada 1" in section.body and "Resumen breve del partido número 7." in section.body
    story = clean_page(STORY.encode(), STORY_URL)
    assert story.extractor == "classifier" and "once kilómetros" in story.body and "Portada" not in story.body
    _pin_page_kind(monkeypatch, UNSURE_NOT_ARTICLE - 0.05)
    with pytest.raises(Dropped):
        clean_page(SECTION.encode(), SECTION_URL)


@pytest.mark.parametrize(
    ("whole", "kept", "expected"),
    [
        ("a" * 150, ["a" * 100], True),
        ("a" * 149, ["a" * 100], False),
        ("a\n" * 149, ["a" * 100], False),  # line breaks are not text
        ("a" * 150, ["a" * 60, "a" * 40], True),  # the kept blocks together
        ("short", [], True),  # the classifier kept nothing
        ("", [], False),
    ],
)
def test_the_whole_reading_must_hold_half_as_much_again(whole: str, kept: list[str], expected: bool) -> None:
    assert _reads_more(whole, kept) is expected


def test_a_gallery_read_whole_keeps_its_captions_as_its_text() -> None:
    """A page read whole by trafilatura, captions in place: a line that matches a caption is
    the caption itself, not a copy of it, and on a gallery it is all the page says. (The rule
    for copies took every line out, and the page was dropped as empty.)"""
    cleaned = clean_page(GALLERY.encode(), GALLERY_URL)
    assert not cleaned.is_article and cleaned.extractor == "trafilatura"
    assert len(cleaned.captions) == len(_PHOTOS)
    for title in _PHOTOS:
        assert title in cleaned.body
    assert "caption" not in cleaned.removed_counts()


def test_the_shipped_page_kind_model_is_small_and_names_its_data() -> None:
    model = shipped_kind_model()
    assert model.kind == "binary" and list(model.features) == PAGE_FEATURES
    assert "wcxb-dev" in json.dumps(model.meta["trained_on"])
    assert len(model.roots) <= 400


def test_the_process_step_drops_what_is_not_an_article_only_when_asked(tmp_path: Path) -> None:
    """Off by default: the shop page is indexed with its score. On: dropped as `not_article`
    (the reason an operator counts), while the story still goes through."""
    store = DirectoryRawStore(tmp_path / "raw")

    def ref(markup: str, url: str) -> PageRef:
        return PageRef(url=url, final_url=url, ref=store.put(markup.encode()), fetched_at="")

    kept = process_page(ref(SHOP, SHOP_URL), ProcessDeps(store=store))
    assert kept.article.extraction.not_article >= NOT_ARTICLE_SCORE and kept.article.body
    with pytest.raises(Dropped) as caught:
        process_page(ref(SHOP, SHOP_URL), ProcessDeps(store=store, drop_not_articles=True))
    assert caught.value.reason == "not_article" and SHOP_URL in str(caught.value)
    story = process_page(ref(STORY, STORY_URL), ProcessDeps(store=store, drop_not_articles=True))
    assert story.article.extraction.not_article < NOT_ARTICLE_SCORE and "once kilómetros" in story.article.body


def test_trafilaturas_reading_of_a_page_leaves_out_the_chrome_the_classifier_found() -> None:
    """A line the classifier removed as boilerplate stays out of the reading that replaces the
    kept blocks; the reading's other lines come in, in their order."""
    root = read_page(SHOP.encode(), SHOP_URL).root
    removed = Block("Cookies helfen uns", block_fingerprint("Cookies helfen uns"), "boilerplate", "boilerplate")
    kept = Block("Akku-Bohrschrauber", block_fingerprint("Akku-Bohrschrauber"))
    read = "Akku-Bohrschrauber 18 V\n| Gewicht | 1,4 kg |\nCookies helfen uns.\nDrehmoment 45 Nm"
    blocks, extractor = _read_instead(
        [removed, kept], read, root, "classifier", only_if_longer=False, leave_out={normalize_block(removed.text)}
    )
    assert extractor == "trafilatura"
    assert [b.text for b in blocks if b.reason is None] == [
        "Akku-Bohrschrauber 18 V",
        "Gewicht | 1,4 kg",
        "Drehmoment 45 Nm",
    ]
    assert [b.text for b in blocks if b.reason] == ["Cookies helfen uns"]


# A shop page of a board game: its feature list and its returns note are sentences of the
# page's own; its menu, its buttons and its footer line are chrome.
GAME_URL = "https://spielwaren.example/en/games/river-towns"
GAME = """<html><head><title>River Towns - board game</title></head><body>
<header><a href="/en/">Home</a> <a href="/en/games/">Games</a><p>Free delivery on orders over 40 euros.</p></header>
<div class="product"><h1>River Towns</h1><div class="price">34.90 EUR</div><button>Add to basket</button>
<ul class="features"><li>Build a harbour and trade with the towns upriver.</li><li>Two to five players, from age ten!</li>
<li>Plays in about an hour</li></ul><p>Free returns within 30 days.</p>
<p><a href="/en/help/returns">Read our returns policy.</a></p><div class="tab">Customer reviews</div></div>
<footer><p>All prices include VAT.</p></footer></body></html>"""


def test_a_page_read_whole_leaves_out_chrome_but_not_an_items_own_sentences() -> None:
    """Of the short blocks the classifier took for boilerplate, a page read whole leaves out
    links, labels and what stands in the header or footer; a sentence with no link outside
    them is the page's own text (a feature, a returns note) and stays."""
    page = read_page(GAME.encode(), GAME_URL)
    blocks = [Block(tb.text, block_fingerprint(tb.text), "boilerplate", "boilerplate") for tb in page.blocks]
    chrome = _chrome_lines(blocks, page.blocks)
    for own in (
        "Build a harbour and trade with the towns upriver.",
        "Two to five players, from age ten!",
        "Free returns within 30 days.",
    ):
        assert normalize_block(own) not in chrome, own
    for line in (
        "Home Games",
        "Plays in about an hour",  # no sentence's end: read as a label
        "Read our returns policy.",  # a link
        "Customer reviews",
        "Free delivery on orders over 40 euros.",  # in the header
        "All prices include VAT.",  # in the footer
    ):
        assert normalize_block(line) in chrome, line
    # Only what the classifier took for boilerplate, and short.
    blocks[0].label = "article"
    assert normalize_block(blocks[0].text) not in _chrome_lines(blocks, page.blocks)


# A local story of 2008, set in one layout table as sites were then: the menu, the story and
# the "most read" box are cells of one row.
TABLE_STORY_URL = "http://www.tagesblatt.example/lokales/wasser.html"
_MENU = " ".join(
    f'<a href="/{w.lower()}/">{w}</a><br>'
    for w in ("Startseite", "Lokales", "Region", "Sport", "Wirtschaft", "Kultur", "Leserbriefe", "Anzeigen", "Archiv")
) + "".join(  # and the paper's towns, a page of news for each
    f'<a href="/orte/{w.lower()}.html">{w}</a><br>'
    for w in (
        "Altdorf",
        "Bergheim",
        "Buchenau",
        "Dorfen",
        "Eichstetten",
        "Feldkirch",
        "Grünwald",
        "Hochberg",
        "Kirchheim",
        "Lindenau",
        "Mühlbach",
        "Neudorf",
        "Oberau",
        "Reichenbach",
        "Rosental",
        "Sonnenberg",
        "Steinach",
        "Talheim",
        "Unterberg",
        "Waldkirch",
        "Weiler",
        "Wiesental",
        "Winterbach",
        "Zell",
    )
)
_TABLE_PARAGRAPHS = (
    "Die Stadtwerke haben am Montag angekündigt, die Wasserpreise im kommenden Jahr um vier Prozent anzuheben.",
    "Als Grund nannte der Geschäftsführer gestiegene Kosten für Energie und die Sanierung alter Leitungen.",
    "Ein durchschnittlicher Haushalt zahle damit rund zwanzig Euro mehr im Jahr, rechnete ein Sprecher vor.",
    "Der Gemeinderat muss der Erhöhung noch zustimmen; die Abstimmung ist für die Sitzung im Dezember geplant.",
    "Die Opposition kündigte Widerstand an und forderte, zuerst die Verwaltungskosten der Stadtwerke zu prüfen.",
)
TABLE_STORY = f"""<html><head><title>Wasser wird teurer - Tagesblatt</title></head>
<body bgcolor="#ffffff"><table width="780" border="0"><tr><td colspan="3"><img src="/kopf.gif" alt="Tagesblatt"></td></tr>
<tr><td width="150" valign="top"><font size="2">{_MENU}</font></td>
<td width="450" valign="top"><b>Wasser wird teurer</b><br><i>Von Karl Huber</i><br>
{"".join(f"<p>{p}</p>" for p in _TABLE_PARAGRAPHS)}</td>
<td width="180" valign="top"><b>Meistgelesen</b><br><a href="/lokales/unfall.html">Unfall auf der Bundesstraße</a><br>
<a href="/lokales/schule.html">Neue Grundschule eröffnet</a><br><a href="/lokales/feuer.html">Feuer in einer Lagerhalle</a></td></tr>
<tr><td colspan="3"><font size="1">&copy; 2008 Tagesblatt Verlag. Alle Rechte vorbehalten.
<a href="/impressum.html">Impressum</a></font></td></tr></table></body></html>"""


@pytest.mark.parametrize("score", [(UNSURE_NOT_ARTICLE + NOT_ARTICLE_SCORE) / 2, NOT_ARTICLE_SCORE])
def test_a_story_laid_out_in_a_table_is_not_read_whole_as_a_table_of_data(
    monkeypatch: pytest.MonkeyPatch, score: float
) -> None:
    """trafilatura reads the layout table as data, the menu, the story and the "most read" box
    in one line; read whole, the body would open with the menu. The classifier's reading stays,
    whatever the page-kind model says of the page."""
    _pin_page_kind(monkeypatch, score)
    cleaned = clean_page(TABLE_STORY.encode(), TABLE_STORY_URL)
    assert cleaned.extractor == "classifier"
    assert all(p in cleaned.body for p in _TABLE_PARAGRAPHS)
    assert "Leserbriefe" not in cleaned.body and "Meistgelesen" not in cleaned.body
    # Without the check, the same page is read whole, the menu first.
    monkeypatch.setattr(cleaning_page, "_flattens_layout", lambda whole, blocks, teasers: False)
    flattened = clean_page(TABLE_STORY.encode(), TABLE_STORY_URL)
    assert flattened.extractor == "trafilatura" and "Leserbriefe" in flattened.body


def _block(text: str, reason: str | None, label: str) -> Block:
    return Block(text, "", reason, label)


STORY_LINE = "A line of the story long enough to be more than a caption, a label or a date, as prose is."
MENU_LINE = "Home News Sports Business Opinion Obituaries Classifieds"


@pytest.mark.parametrize(
    ("whole", "expected"),
    [
        (f"| {MENU_LINE} | {STORY_LINE} |", True),  # menu and story, cells of one row
        (f"{MENU_LINE}\n{STORY_LINE}", False),  # lines of their own: the chrome rule takes the menu
        (f"| {STORY_LINE} |\n| {MENU_LINE} |", False),  # rows of their own
        (f"| {STORY_LINE} | Home |", False),  # a short label beside it
        (f"| Price | {STORY_LINE} |", False),  # nothing the classifier took for chrome
    ],
)
def test_a_reading_flattens_a_layout_when_one_row_holds_the_story_and_chrome(whole: str, expected: bool) -> None:
    blocks = [
        _block(MENU_LINE, "boilerplate", "boilerplate"),
        _block("Home", "boilerplate", "boilerplate"),
        _block(STORY_LINE, None, "article"),
    ]
    assert _flattens_layout(whole, blocks, []) is expected


def test_only_the_first_long_rows_of_a_reading_are_looked_at() -> None:
    """A layout's rows come first; the check stops after `LAYOUT_ROWS` long rows, so a table
    of data thousands of rows long costs it no more than a short one."""
    blocks = [_block(MENU_LINE, "boilerplate", "boilerplate"), _block(STORY_LINE, None, "article")]
    row = "of a long table of figures, with words enough in each of its cells to be read as a long row"
    data = [f"| Row {n} {row} | {n * 7} units, counted at the end of the month |" for n in range(40)]
    layout = f"| {MENU_LINE} | {STORY_LINE} |"
    assert _flattens_layout("\n".join([*data[: LAYOUT_ROWS - 1], layout]), blocks, [])
    assert not _flattens_layout("\n".join([*data[:LAYOUT_ROWS], layout]), blocks, [])


def test_a_teaser_rail_beside_the_story_counts_as_chrome() -> None:
    rail = "Most read: Storm knocks out power; Man arrested after chase; Teacher honored"
    blocks = [_block(STORY_LINE, None, "article")]
    assert _flattens_layout(f"| {STORY_LINE} | {rail} |", blocks, [rail])
    assert not _flattens_layout(f"| {STORY_LINE} | {rail} |", blocks, [])
