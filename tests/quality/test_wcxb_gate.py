"""Quality gate on wcxb-dev (WCXB by Murrough Foley, CC-BY-4.0: 1,474 pages of 2025-26 from
1,283 sites), when it is present beside the repository. Its article pages train the shipped
block classifier, so every page here is cleaned by the fold model that never saw its site.

Floors live in `floors.json` under "wcxb"; raising is free, lowering is a commit of its own
that says why."""

from __future__ import annotations

from typing import Any

import pytest

from bench.quality import DEFAULT_WCXB, score_devset
from tests.quality import benchmark_gate, floors

FLOORS = floors("wcxb")

pytestmark = benchmark_gate(DEFAULT_WCXB / "ground-truth.json.gz", 1200)  # the first run trains the fold models


@pytest.fixture(scope="module")
def scores() -> dict[str, Any]:
    return score_devset(DEFAULT_WCXB, timing=False)


def test_article_f1_beats_the_extraction_library_alone(scores: dict[str, Any]) -> None:
    """On the article pages, held-out token F1 is above trafilatura's and above its floor."""
    articles = scores["page_types"]["article"]
    ours, theirs = articles["newsflow F1"], articles["trafilatura F1"]
    assert ours > theirs, f"newsflow F1 {ours:.4f} is not above trafilatura's {theirs:.4f} on wcxb-dev articles"
    assert ours >= FLOORS["f1"], f"wcxb-dev article F1 {ours:.4f} fell below {FLOORS['f1']} ({FLOORS['why']['f1']})"


def test_fewer_must_exclude_snippets_reach_the_body(scores: dict[str, Any]) -> None:
    """Navigation, cookie notices and related headlines the benchmark names stay out more often than with trafilatura."""
    found = scores["must_exclude_found"]
    assert found["newsflow"] < found["trafilatura"]
    assert found["newsflow"] <= FLOORS["must_exclude_max"], (
        f"must-exclude snippets found {found['newsflow']:.4f} over {FLOORS['must_exclude_max']}"
    )


def test_no_article_page_is_dropped(scores: dict[str, Any]) -> None:
    """Every article page of the set keeps some text: none is dropped as empty."""
    assert scores["page_types"]["article"]["dropped"] == 0


def test_the_page_types_read_as_well_as_trafilatura_hold_their_floors(scores: dict[str, Any]) -> None:
    """The page types on which newsflow reads as well as trafilatura (a gallery's captions are
    its text; a forum thread or a service page is read whole) stay at their floors."""
    for kind, floor in FLOORS["type_f1"].items():
        ours = scores["page_types"][kind]["newsflow F1"]
        assert ours >= floor, f"wcxb-dev {kind} F1 {ours:.4f} fell below {floor} ({FLOORS['why']['type_f1']})"
