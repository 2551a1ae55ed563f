"""The block classifier's parts: cutting a page into blocks, the features, the trees run with NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from lxml import html as lxml_html

from pipeline.cleaning.blocks import cut_blocks
from pipeline.cleaning.features import FEATURES, block_features
from pipeline.cleaning.model import CLASSES, from_lightgbm, shipped_model
from pipeline.cleaning.page import classify_blocks, clean_page, read_page

URL = "https://valley-gazette.example/2026/03/river-festival-returns.html"
PAGE = """<!DOCTYPE html><html lang="en"><head><title>River festival returns</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<article><h1>River festival returns after four years</h1>
<p>The river festival will return to the old quay in June, the town council said on Monday, four years after
the last one was cancelled for lack of volunteers.</p>
<p>Organisers expect about twelve thousand visitors over the weekend, with boat races, a night market and a
concert on a floating stage moored beside the bridge.</p>
<p>Tickets for the concert go on sale next month; the races and the market stay free, as they always were.</p>
</article>
<footer><p>© 2026 Valley Gazette. All rights reserved.</p></footer>
<script>var hidden = "never text";</script></body></html>"""


def root_of(markup: str) -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(markup)


def test_blocks_follow_reading_order_and_skip_what_no_reader_sees() -> None:
    """Block-level elements split the text; scripts and hidden elements give no block."""
    root = root_of(
        "<html><body><div>Intro <b>bold</b> words<p>First para</p>tail text</div>"
        "<div hidden>secret one</div><div style='display: none'>secret two</div><script>x=1</script>"
        "<span aria-hidden='true'>secret three</span></body></html>"
    )
    texts = [b.text for b in cut_blocks(root)]
    assert texts == ["Intro bold words", "First para", "tail text"]


def test_two_line_breaks_end_a_paragraph_and_one_does_not() -> None:
    """Old table layouts set a story in one cell, its paragraphs split by <br><br>."""
    root = root_of("<html><body><td>One line<br>goes on<br><br>Second paragraph<br> <br>Third</td></body></html>")
    texts = [b.text for b in cut_blocks(root)]
    assert texts == ["One line goes on", "Second paragraph", "Third"]


def test_links_are_counted_with_their_characters() -> None:
    root = root_of("<html><body><p>Read <a href='/a'>this story</a> and <a href='/b'>that</a>.</p></body></html>")
    (block,) = cut_blocks(root)
    assert block.links == ["/a", "/b"]
    assert block.link_chars == len("this story") + len("that")


def test_features_have_one_row_per_block_and_the_named_columns() -> None:
    page = read_page(PAGE.encode(), URL)
    x = block_features(page.blocks, "valley-gazette.example")
    assert x.shape == (len(page.blocks), len(FEATURES))
    assert np.isfinite(x).all()
    nav = next(i for i, b in enumerate(page.blocks) if b.text == "Home")
    assert x[nav, FEATURES.index("link_density")] == 1.0
    assert x[nav, FEATURES.index("in_nav")] == 1.0


def test_text_features_count_what_they_name() -> None:
    """Punctuation, digits, capitals, a closing mark, a date: each column from its own text."""
    root = root_of(
        "<html><body><p>Rain, wind; and «snow»</p><p>Ends here.\n</p><p>Opened 12 May 2026: 40 stalls</p>"
        "<p>no date in 1 sentence?!</p><p>Hai ngày, tháng 3</p><p>ⅷ ² no digits at all</p></body></html>"
    )
    blocks = cut_blocks(root)
    x = block_features(blocks, "example.org")

    def column(name: str) -> list[float]:
        return [round(float(v), 4) for v in x[:, FEATURES.index(name)]]

    assert len(blocks) == 6
    assert column("punct_per_word") == [0.5, 0.5, round(1 / 6, 4), 0.4, 0.25, 0.0]
    assert column("ends_sentence") == [1.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    assert column("has_date") == [0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert column("upper_share") == [0.25, 0.5, round(2 / 6, 4), 0.0, 0.25, 0.0]
    # str.isdigit counts the superscript two, which no date pattern reads as a digit.
    assert column("digit_share") == [0.0, 0.0, round(8 / 29, 4), round(1 / 23, 4), round(1 / 17, 4), round(1 / 20, 4)]


def test_the_reader_and_related_words_are_found_in_any_case() -> None:
    """The word lists are searched in lower-cased text: capitals, Vietnamese and German
    capitals included, match as the lists' own words do; prose that names none does not."""
    root = root_of(
        "<html><body><p>SUBSCRIBE TO OUR NEWSLETTER</p><p>ĐĂNG KÝ nhận bản tin</p><p>Lesen Sie AUCH</p>"
        "<h3>RELATED STORIES</h3><p>Tin Liên Quan</p><p>The ferry left at dawn.</p></body></html>"
    )
    x = block_features(cut_blocks(root), "example.org")
    prompt = [float(v) for v in x[:, FEATURES.index("prompt_words")]]
    related = [float(v) for v in x[:, FEATURES.index("related_words")]]
    assert prompt == [1.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    assert related == [0.0, 0.0, 0.0, 1.0, 1.0, 0.0]


def test_the_shipped_model_keeps_the_story_and_drops_the_chrome() -> None:
    """The story's paragraphs score as article; menu and footer do not; scores are probabilities."""
    page = read_page(PAGE.encode(), URL)
    scores = classify_blocks(page)
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    by_text = {b.text: s for b, s in zip(page.blocks, scores, strict=True)}
    assert by_text["Home"].argmax() != CLASSES.index("article")
    story = [s for t, s in by_text.items() if t.startswith(("The river festival", "Organisers", "Tickets"))]
    assert len(story) == 3 and all(s[1] > 0.5 for s in story)
    cleaned = clean_page(PAGE.encode(), URL)
    assert cleaned.body.startswith("The river festival will return")
    assert "All rights reserved" not in cleaned.body
    assert all(b.score is not None for b in cleaned.blocks if b.reason in (None, *CLASSES))


def test_the_same_page_gets_the_same_scores_every_time() -> None:
    first = classify_blocks(read_page(PAGE.encode(), URL))
    again = classify_blocks(read_page(PAGE.encode(), URL))
    assert np.array_equal(first, again)


def test_numpy_trees_score_as_lightgbm_does() -> None:
    """The converted trees give LightGBM's own probabilities, to float precision."""
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 7, "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=15)
    names = [f"f{i}" for i in range(5)]
    model = from_lightgbm(booster.dump_model(), names, {})
    assert np.allclose(model.scores(x), booster.predict(x), atol=1e-5)


def test_two_binary_boosters_score_article_then_teaser_as_lightgbm_does() -> None:
    """The shipped shape: P(article), and P(teaser) = P(not article) x P(teaser | not article)."""
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(800, 4)).astype(np.float32)
    article = (x[:, 0] > 0.2).astype(int)
    teaser = (x[:, 1] > 0).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "num_threads": 1}
    first = lgb.train(params, lgb.Dataset(x, article), num_boost_round=12)
    rest = article == 0
    second = lgb.train(params, lgb.Dataset(x[rest], teaser[rest]), num_boost_round=6)
    model = from_lightgbm((first.dump_model(), second.dump_model()), [f"f{i}" for i in range(4)], {})
    scores = model.scores(x)
    p_article, p_teaser = first.predict(x), second.predict(x)
    assert model.kind == "article_teaser"
    assert np.allclose(scores[:, 1], p_article, atol=1e-5)
    assert np.allclose(scores[:, 2], (1 - p_article) * p_teaser, atol=1e-5)
    assert np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)


def test_the_shipped_model_matches_the_features_it_is_given() -> None:
    model = shipped_model()
    assert list(model.features) == FEATURES
    assert model.roots.size > 0


STORY_IN_CHUNKS = [
    "Die Stadtwerke haben am Montag den Bau des neuen Wasserwerks am Nordufer begonnen, zwei Jahre später als geplant.",
    "Nach Angaben der Betreiber soll die Anlage ab dem kommenden Herbst rund vierzigtausend Haushalte versorgen.",
    "Der Gemeinderat hatte das Projekt im Frühjahr nach einer langen Debatte über die Kosten knapp gebilligt.",
    "Anwohner am Nordufer fürchten vor allem den Baulärm, der nach dem Zeitplan bis in den Sommer andauern wird.",
    "Die Stadtwerke wollen deshalb an den Wochenenden nicht bauen und eine Sprechstunde im Rathaus anbieten.",
    "Die Kosten des Wasserwerks werden inzwischen auf knapp achtzig Millionen Euro geschätzt, zehn mehr als geplant.",
]


def test_a_story_split_by_adverts_is_read_whole_and_in_order() -> None:
    """Three chunks of one story with adverts between them: every paragraph kept, the adverts not."""
    chunks = [STORY_IN_CHUNKS[i : i + 2] for i in (0, 2, 4)]
    advert = '<div class="ad-slot"><span>Anzeige</span></div>'
    middle = advert.join('<div class="story-body">' + "".join(f"<p>{p}</p>" for p in c) + "</div>" for c in chunks)
    page = (
        "<html lang='de'><head><title>Bau des Wasserwerks beginnt</title></head><body>"
        f"<main><h1>Bau des Wasserwerks beginnt</h1>{middle}</main></body></html>"
    )
    cleaned = clean_page(page.encode(), "https://stadtbote.example/lokales/wasserwerk-bau-beginnt-2231.html")
    assert cleaned.body == "\n\n".join(STORY_IN_CHUNKS)


def test_a_binary_body_is_dropped_as_not_html() -> None:
    """A PDF served as text/html is no page to clean: dropped with the reason operators see."""
    from pipeline.errors import Dropped

    with pytest.raises(Dropped) as caught:
        clean_page(b"%PDF-1.7\n" + bytes(range(256)) * 40, URL)
    assert caught.value.reason == "not_html"


def test_a_link_to_an_address_that_does_not_parse_is_no_article_link() -> None:
    """An unclosed IPv6 bracket in a rail's link ("//[x/a.html") is a plain link, not a crash."""
    page = (
        b"<html><body><article><h1>T</h1><p>" + b"A story long enough to keep. " * 20 + b"</p></article>"
        b"<ul><li><a href='//[x/a.html'>Other story one</a></li><li><a href='/b.html'>Other story two</a></li></ul>"
        b"</body></html>"
    )
    cleaned = clean_page(page, "https://x.example/a.html")
    assert cleaned.body.startswith("A story long enough to keep.")


def test_training_labels_follow_the_annotated_text() -> None:
    """A block is article text when its words stand in the annotated body, a teaser when they
    stand in an annotated teaser, boilerplate otherwise."""
    from pipeline.cleaning.train import Labeller

    body = "The council voted on Tuesday to fund a new footbridge over the river. Work starts in spring."
    labeller = Labeller(body, ["Rovers win the derby at last after ten years"])
    texts = [
        "The council voted on Tuesday to fund a new footbridge over the river.",
        "Rovers win the derby at last after ten years",
        "Subscribe to our newsletter for the week's news",
    ]
    assert labeller.labels(texts) == [1, 2, 0]


def test_a_short_block_is_article_text_only_where_the_body_puts_it() -> None:
    """A short block whose words the story uses elsewhere (a tag, a photo credit's label) is
    not article text; the same words standing between its neighbours' paragraphs are."""
    from pipeline.cleaning.train import Labeller

    first = "The storm reached the coast on Monday night and cut power to ten thousand homes."
    second = "Crews worked through Tuesday to bring the lines back, the utility said in a statement."
    body = f"{first} Power cuts {second} Later the mayor spoke of the storm's cost."
    labeller = Labeller(body, [])
    # "Power cuts" stands between the two paragraphs in the body: article text.
    assert labeller.labels([first, "Power cuts", second]) == [1, 1, 1]
    # "Storm" is a word of the story, but no text stands between the paragraphs in the body.
    assert labeller.labels([first, "Storm", second]) == [1, 0, 1]
    # After the last paragraph, "the mayor" stands in the body after it: article text.
    assert labeller.labels([first, second, "the mayor"]) == [1, 1, 1]
    # ... but "Monday night" stands before it, so printed there it is not.
    assert labeller.labels([first, second, "Monday night"]) == [1, 1, 0]


def test_a_paragraph_printed_twice_does_not_misplace_the_blocks_after_it() -> None:
    """An interview's repeated question is placed after the answer before it, so the short
    name that follows the second answer is read where it stands."""
    from pipeline.cleaning.train import Labeller

    question = "What made you start writing about food for other people to read?"
    answers = [
        "I wanted to keep my grandmother's recipes somewhere safe for good.",
        "My friends kept asking me for the sauce I make on Sundays.",
    ]
    body = f"Anna Berg {question} {answers[0]} Omar Said {question} {answers[1]}"
    labeller = Labeller(body, [])
    texts = ["Anna Berg", question, answers[0], "Omar Said", question, answers[1]]
    assert labeller.labels(texts) == [1, 1, 1, 1, 1, 1]
