"""Quality gate on the public development set, when it is present beside the repository.

CI has `../shared/benchmarks/` next to the clone; a developer's machine may not, and then
these tests are skipped (the corpus gate still runs). The floors live in `floors.json`
under "devset"; the same rule holds: raising is free, lowering is a commit of its own
that says why.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.quality import DEFAULT_DEVSET, score_devset
from tests.quality import benchmark_gate, floors

FLOORS = floors("devset")

pytestmark = benchmark_gate(DEFAULT_DEVSET / "ground-truth.json.gz", 1200)  # the first run trains the fold models


@pytest.fixture(scope="module")
def scores() -> dict[str, Any]:
    return score_devset(DEFAULT_DEVSET, timing=False)


def test_body_f1_beats_the_extraction_library_alone(scores: dict[str, Any]) -> None:
    """newsflow's held-out token F1 (fold models that never saw the site) is above trafilatura's, and above its floor."""
    ours, theirs = scores["newsflow"]["f1"], scores["trafilatura"]["f1"]
    assert ours > theirs, f"newsflow F1 {ours:.4f} is not above trafilatura's {theirs:.4f}"
    assert ours >= FLOORS["f1"], f"dev-set F1 {ours:.4f} fell below its floor {FLOORS['f1']} ({FLOORS['why']['f1']})"


def test_teaser_leakage_stays_under_its_ceiling(scores: dict[str, Any]) -> None:
    """Teaser text reaching the body stays at or under the pinned ceiling."""
    leak = scores["newsflow"]["teaser_leakage"]
    ceiling = FLOORS["teaser_leakage_max"]
    assert leak <= ceiling, (
        f"dev-set teaser leakage {leak:.4f} is over {ceiling} ({FLOORS['why']['teaser_leakage_max']})"
    )


def test_no_page_raises(scores: dict[str, Any]) -> None:
    """Every public page is cleaned or dropped with a reason; none raises."""
    assert scores["newsflow"]["errors"] == 0


def test_no_two_different_articles_share_a_cluster(scores: dict[str, Any]) -> None:
    """The set holds 181 different articles, pairs of one site among them: none is taken for a near-duplicate."""
    assert scores["false_neardup_pairs"] == 0
