"""Quality gate: newsflow's cleaning on the golden corpus stays at or above pinned floors.

The floors in `floors.json` are the figures measured when they were pinned, rounded down a
little. RAISE them when the cleaning improves (run `.venv/bin/python bench/quality.py --only
corpus` and pin the new figures minus about 0.005). LOWERING a floor needs an explicit commit
of its own whose message says why the loss is accepted; never lower one to make a change pass.

Only the corpus is scored here (a few seconds); the public development set is scored by
`bench/quality.py` itself, outside CI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.quality import DEFAULT_CORPUS, print_corpus, score_corpus

FLOORS = json.loads((Path(__file__).with_name("floors.json")).read_text(encoding="utf-8"))["corpus"]

pytestmark = [pytest.mark.quality, pytest.mark.timeout(120)]  # the corpus run must stay under 2 minutes


@pytest.fixture(scope="module")
def scores() -> dict[str, Any]:
    result = score_corpus(DEFAULT_CORPUS)
    print_corpus(result)  # shown by pytest when an assertion fails
    return result


@pytest.mark.parametrize("measure", ["f1", "recall", "neardup_precision", "neardup_recall"])
def test_at_or_above_floor(scores: dict[str, Any], measure: str) -> None:
    measured, floor = scores["overall"][measure], FLOORS[measure]
    assert measured >= floor, f"corpus {measure} {measured:.4f} fell below its floor {floor} ({FLOORS['why'][measure]})"


def test_teaser_leakage_at_or_below_ceiling(scores: dict[str, Any]) -> None:
    measured, ceiling = scores["overall"]["teaser_leakage"], FLOORS["teaser_leakage_max"]
    assert measured <= ceiling, (
        f"corpus teaser leakage {measured:.4f} rose above its ceiling {ceiling} ({FLOORS['why']['teaser_leakage_max']})"
    )


def test_every_page_is_cleaned(scores: dict[str, Any]) -> None:
    failed = {p["key"]: p["error"] for p in scores["pages"] if p["error"]}
    assert not failed, f"pages that raised instead of giving an article: {failed}"


def test_learning_converged(scores: dict[str, Any]) -> None:
    """After re-cleaning, no page's body depends on when its site's boilerplate became known."""
    assert not scores["changed_by_final_pass"], (
        "these pages would get another body if cleaned again with the final boilerplate statistics "
        f"(a re-clean was missed): {scores['changed_by_final_pass']}"
    )
