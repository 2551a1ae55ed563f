"""Fingerprints and MinHash similarity: pure functions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.dedup import content_hash, jaccard, minhash, similarity

STORY = (
    "Heavy rain overnight pushed the river above its banks in three districts. Emergency crews moved more than "
    "four hundred residents to schools on higher ground, and the regional road north of the bridge was closed. "
    "The weather office expects the water to fall slowly from Thursday, but warned of landslides on the hill roads. "
    "Farmers said the flood came a week before the rice harvest and many fields are now under a metre of water."
)


def test_exact_fingerprint_ignores_case_spacing_and_punctuation() -> None:
    """Two copies that differ only in layout have one content hash."""
    assert content_hash(STORY) == content_hash("  " + STORY.upper().replace(",", " ,") + "\n")
    assert content_hash(STORY) != content_hash(STORY + " One more sentence.")


def test_light_edit_stays_similar_and_another_story_does_not() -> None:
    """An update with a changed sentence is near; a different story on the same topic is far."""
    updated = STORY.replace("from Thursday", "from Friday") + " Officials will review the dykes next month."
    other = (
        "The river authority opened two new flood gates upstream of the town this spring, after ten years of "
        "planning. Engineers say the gates will hold back water in heavy rain and protect the rice fields nearby."
    )
    assert similarity(minhash(STORY), minhash(updated)) >= 0.6
    assert similarity(minhash(STORY), minhash(other)) <= 0.1


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=0, max_size=400))
def test_similarity_to_itself_is_one(text: str) -> None:
    """similarity(a, a) == 1 for any text, empty included."""
    assert similarity(minhash(text), minhash(text)) == 1.0


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200))
def test_jaccard_is_symmetric_and_bounded(a: str, b: str) -> None:
    """Jaccard similarity is symmetric and between 0 and 1."""
    assert jaccard(a, b) == jaccard(b, a)
    assert 0.0 <= jaccard(a, b) <= 1.0
