"""The drift judgement (pure): which changes of a site's extraction figures raise an alarm."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.drift import DriftLimits, PageSample, compare, figures
from pipeline.settings import Settings


def pages(n: int, length: int, *, no_text: int = 0, teasers: int = 0) -> list[PageSample]:
    return [PageSample(length + i % 7, False, teasers) for i in range(n - no_text)] + [
        PageSample(0, True, 0) for _ in range(no_text)
    ]


def kinds(baseline: list[PageSample], recent: list[PageSample]) -> list[str]:
    return [c.kind for c in compare(figures(baseline), figures(recent))]


def test_the_same_site_as_before_raises_nothing() -> None:
    """Pages like the baseline's, with the odd empty page and small swings, are no drift."""
    assert kinds(pages(60, 2400, no_text=3, teasers=4), pages(20, 2100, no_text=1, teasers=5)) == []


def test_bodies_suddenly_short_is_a_fall_of_the_median_length() -> None:
    """A redesign that leaves only a standfirst halves the median body length and more."""
    changes = compare(figures(pages(60, 2400)), figures(pages(20, 300)))
    assert [c.kind for c in changes] == ["body_length_fell"]
    assert "2403" in changes[0].describe() and "303" in changes[0].describe()


def test_many_pages_without_text_is_a_rise_of_the_no_text_share() -> None:
    """A quarter more pages with no article text than the baseline had is an alarm; the median of
    the pages that still have text is not dragged down by the empty ones."""
    assert kinds(pages(60, 2400, no_text=2), pages(20, 2400, no_text=8)) == ["no_text_rose"]
    assert kinds(pages(60, 2400, no_text=2), pages(20, 2400, no_text=3)) == []


def test_teasers_removed_per_page_jumping_is_an_alarm_but_one_more_is_not() -> None:
    assert kinds(pages(60, 2400, teasers=3), pages(20, 2400, teasers=9)) == ["teasers_jumped"]
    assert kinds(pages(60, 2400, teasers=0), pages(20, 2400, teasers=1)) == []


def test_several_changes_at_once_are_all_named() -> None:
    recent = pages(20, 200, no_text=10, teasers=12)
    assert kinds(pages(60, 2400, teasers=2), recent) == ["body_length_fell", "no_text_rose", "teasers_jumped"]


def test_a_baseline_of_pages_without_text_does_not_alarm_on_length() -> None:
    assert figures(pages(5, 100, no_text=5)).median_length == 0
    assert "body_length_fell" not in kinds(pages(5, 100, no_text=5), pages(20, 50))


def test_thresholds_are_the_caller_s() -> None:
    strict = DriftLimits(length_ratio=0.95)
    assert [c.kind for c in compare(figures(pages(60, 2400)), figures(pages(20, 2000)), strict)] == ["body_length_fell"]


def test_the_limits_come_from_the_settings_environment_included(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEWSFLOW_DRIFT_* reach the limits; a limit that cannot work is a settings error naming it."""
    monkeypatch.setenv("NEWSFLOW_DRIFT_LENGTH_RATIO", "0.9")
    monkeypatch.setenv("NEWSFLOW_DRIFT_RECENT_PAGES", "5")
    limits = DriftLimits.from_settings(Settings.load())
    assert (limits.length_ratio, limits.recent_pages, limits.baseline_pages) == (0.9, 5, 60)
    assert [c.kind for c in compare(figures(pages(60, 2400)), figures(pages(5, 2000)), limits)] == ["body_length_fell"]
    monkeypatch.setenv("NEWSFLOW_DRIFT_RECENT_PAGES", "0")
    with pytest.raises(ValueError, match="drift_recent_pages"):
        Settings.load()


@given(st.lists(st.builds(PageSample, st.integers(0, 10**6), st.booleans(), st.integers(0, 50)), max_size=80))
def test_a_window_never_drifts_from_itself_and_samples_survive_encoding(samples: list[PageSample]) -> None:
    assert compare(figures(samples), figures(samples)) == []
    assert [PageSample.decode(s.encode()) for s in samples] == samples
