"""Quality gate on trafilatura-eval (990 pages of hundreds of sites, must/must-not snippets),
when it is present beside the repository: issue 11's targets, held on every change.

Floors live in `floors.json` under "trafeval"; raising is free, lowering is a commit of its
own that says why."""

from __future__ import annotations

from typing import Any

import pytest

from bench.quality import DEFAULT_TRAFEVAL, score_trafeval
from tests.quality import benchmark_gate, floors

FLOORS = floors("trafeval")

pytestmark = benchmark_gate(DEFAULT_TRAFEVAL / "ground-truth.json.gz", 900)


@pytest.fixture(scope="module")
def scores() -> dict[str, Any]:
    return score_trafeval(DEFAULT_TRAFEVAL, beside=True)


def test_snippet_f1_beats_the_extraction_library_alone(scores: dict[str, Any]) -> None:
    ours, theirs = scores["newsflow"]["f1"], scores["trafilatura"]["f1"]
    assert ours > theirs, f"newsflow snippet F1 {ours:.4f} is not above trafilatura's {theirs:.4f}"
    assert ours >= FLOORS["f1"], f"trafilatura-eval F1 {ours:.4f} fell below {FLOORS['f1']} ({FLOORS['why']['f1']})"


def test_recall_stays_within_a_point_of_the_library(scores: dict[str, Any]) -> None:
    ours, theirs = scores["newsflow"]["recall"], scores["trafilatura"]["recall"]
    gap = FLOORS["recall_gap_max"]
    assert theirs - ours <= gap, f"recall {ours:.4f} trails trafilatura's {theirs:.4f} by more than {gap}"


def test_fewer_must_exclude_snippets_reach_the_body(scores: dict[str, Any]) -> None:
    """The snippets the set names as not the page's text (menus, related headlines, calls to
    subscribe) reach the body less often than with trafilatura, and no more often than the floor."""
    ours, theirs = scores["newsflow"]["must_exclude_found"], scores["trafilatura"]["must_exclude_found"]
    assert ours < theirs, f"must-exclude snippets found {ours:.4f}, not below trafilatura's {theirs:.4f}"
    assert ours <= FLOORS["must_exclude_max"], (
        f"must-exclude snippets found {ours:.4f} over {FLOORS['must_exclude_max']} ({FLOORS['why']['must_exclude_max']})"
    )
