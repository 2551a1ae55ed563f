"""The scoring's own measures, on hand-made cases (so a gate figure means what it says)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from bench.quality import (
    body_prf,
    leakage_counts,
    pair_scores,
    pinned_value,
    shingle_f1,
    shingle_tp_fp_fn,
    tokens,
    without_landmarks,
)


def bag(text: str) -> Counter:
    return Counter(tokens(text))


def test_tokens_are_unicode_words_lower_cased_nfc() -> None:
    decomposed = "Ha\u0300 Lam"  # "Hà" written with a combining grave accent
    assert tokens(decomposed) == ["hà", "lam"]
    assert tokens("Cùng chủ đề: Tin-liên quan!") == ["cùng", "chủ", "đề", "tin", "liên", "quan"]


def test_body_precision_recall_are_multiset() -> None:
    p, r, f = body_prf(bag("a a b"), bag("a b b"))
    assert (p, r) == pytest.approx((2 / 3, 2 / 3))
    assert f == pytest.approx(2 / 3)
    assert body_prf(bag(""), bag("a b")) == (0.0, 0.0, 0.0)


def test_teaser_tokens_the_article_also_has_are_not_leakage() -> None:
    expected = "the council met on monday"
    teasers = ["the council met on friday"]  # only "friday" is countable
    assert leakage_counts(bag(expected), bag(expected), teasers) == (0, 1)
    assert leakage_counts(bag(expected + " friday"), bag(expected), teasers) == (1, 1)
    # A second copy of a shared word counts once the body holds more of it than the truth.
    assert leakage_counts(bag(expected + " the council"), bag(expected), ["the council the council"]) == (2, 2)


def test_pairs() -> None:
    truth = {"a": "s1", "b": "s1", "c": "s1", "d": "s2"}
    pred = {"a": "x", "b": "x", "c": "y", "d": "y"}
    got = pair_scores(truth, pred)
    assert got["true_pairs"] == 3 and got["predicted_pairs"] == 2
    assert got["precision"] == pytest.approx(0.5) and got["recall"] == pytest.approx(1 / 3)
    assert pair_scores({"a": "1", "b": "2"}, {"a": "a", "b": "b"})["precision"] == 1.0


def test_shingle_f1_of_a_perfect_extraction_is_one() -> None:
    text = "one two three four five six"
    assert shingle_f1([shingle_tp_fp_fn(text, text)])["f1"] == pytest.approx(1.0)
    assert shingle_f1([shingle_tp_fp_fn("", text)])["recall"] == 0.0


def test_pinned_values_round_towards_safety() -> None:
    assert pinned_value(0.9861, "min") == 0.981
    assert pinned_value(0.0001, "max") == 0.006
    assert pinned_value(1.0, "min") == 0.995


def test_a_page_without_landmarks_keeps_its_text_and_loses_what_html5_declares() -> None:
    page = """<html><head><meta property="og:type" content="article">
<meta property="article:section" content="Lokales"><meta name="og:title" content="Brücke">
<script type="application/ld+json">{"@type": "NewsArticle"}</script>
<script>var menu = 1;</script></head>
<body><header class="top"><nav id="menu"><a href="/">Start</a></nav></header>
<main><article itemscope itemtype="https://schema.org/NewsArticle"><h1 itemprop="headline">Die Brücke</h1>
<time datetime="2008-05-02">2. Mai 2008</time><section><p>Der Bau beginnt im Juni.</p></section>
<figure><img src="b.jpg"><figcaption>Die alte Brücke</figcaption></figure></article></main>
<aside>Meistgelesen</aside><footer>Impressum</footer><navigation-bar>x</navigation-bar></body></html>"""
    old = without_landmarks(page.encode()).decode()
    for tag in ("nav", "header", "main", "article", "section", "figure", "figcaption", "aside", "footer", "time"):
        assert not re.search(rf"</?{tag}[\s>]", old), tag
    for gone in (
        "itemscope",
        "itemprop",
        "itemtype",
        "ld+json",
        "og:type",
        "article:section",
    ):
        assert gone not in old, gone
    for kept in (
        "Start",
        "Die Brücke",
        "2. Mai 2008",
        "Der Bau beginnt im Juni.",
        "Die alte Brücke",
        "Meistgelesen",
        "Impressum",
        'class="top"',
        'id="menu"',
        '<span datetime="2008-05-02">',
        "og:title",
        "<script>var menu = 1;</script>",
        "<navigation-bar>",
    ):
        assert kept in old, kept
    assert old.count("<div") == old.count("</div>") == 9  # nine sectioning elements
