"""Extraction drift: has a site's cleaning changed (a redesign) since its pages were learned?

Each cleaned (or dropped) page of a site leaves a `PageSample`: its body length, whether
cleaning found no article text, and how many teasers it removed. A site's samples fill a
baseline window, then a recent window; when the recent window is full, `compare` sets it
against the baseline. A drift is one of:

- `body_length_fell`: the median body length fell below `length_ratio` of the baseline's;
- `no_text_rose`: the share of pages with no article text rose by `no_text_rise` or more;
- `teasers_jumped`: teasers removed per page grew past `teaser_ratio` times the baseline's
  (plus `teaser_floor`, so a site with none does not alarm on one).

`figures` and `compare` are pure; `observe` runs them on the windows kept in Redis
(`pipeline.state.drift`) and raises, or clears, the site's alarm.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from statistics import median
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.state.drift import DriftWindows

log = logging.getLogger("newsflow.drift")

BASELINE_PAGES = 60  # pages a site's baseline holds (the oldest leave as new normal windows join)
RECENT_PAGES = 20  # pages compared with the baseline at a time


@dataclass(frozen=True)
class PageSample:
    length: int  # characters of the cleaned body (0 when no text was found)
    no_text: bool
    teasers: int

    def encode(self) -> str:
        return f"{self.length},{int(self.no_text)},{self.teasers}"

    @classmethod
    def decode(cls, raw: str | bytes) -> PageSample:
        text = raw.decode() if isinstance(raw, bytes) else raw
        length, no_text, teasers = (int(x) for x in text.split(","))
        return cls(length, bool(no_text), teasers)


@dataclass(frozen=True)
class WindowFigures:
    pages: int
    median_length: float  # over the pages that had text; 0 when none had
    no_text_share: float
    teasers_per_page: float


def figures(samples: list[PageSample]) -> WindowFigures:
    if not samples:
        return WindowFigures(0, 0.0, 0.0, 0.0)
    lengths = [s.length for s in samples if not s.no_text]
    return WindowFigures(
        pages=len(samples),
        median_length=float(median(lengths)) if lengths else 0.0,
        no_text_share=sum(s.no_text for s in samples) / len(samples),
        teasers_per_page=sum(s.teasers for s in samples) / len(samples),
    )


@dataclass(frozen=True)
class Thresholds:
    length_ratio: float = 0.5
    no_text_rise: float = 0.25
    teaser_ratio: float = 2.0
    teaser_floor: float = 1.0


@dataclass(frozen=True)
class Change:
    kind: str  # body_length_fell | no_text_rose | teasers_jumped
    before: float
    after: float

    def describe(self) -> str:
        if self.kind == "body_length_fell":
            return f"median body length fell from {self.before:.0f} to {self.after:.0f} characters"
        if self.kind == "no_text_rose":
            return f"pages with no article text rose from {self.before:.0%} to {self.after:.0%}"
        return f"teasers removed per page jumped from {self.before:.1f} to {self.after:.1f}"


def compare(baseline: WindowFigures, recent: WindowFigures, limits: Thresholds = Thresholds()) -> list[Change]:
    """The ways `recent` departs from `baseline` (none: the site extracts as it did)."""
    changes = []
    if baseline.median_length > 0 and recent.median_length < baseline.median_length * limits.length_ratio:
        changes.append(Change("body_length_fell", baseline.median_length, recent.median_length))
    if recent.no_text_share - baseline.no_text_share >= limits.no_text_rise:
        changes.append(Change("no_text_rose", baseline.no_text_share, recent.no_text_share))
    if recent.teasers_per_page > baseline.teasers_per_page * limits.teaser_ratio + limits.teaser_floor:
        changes.append(Change("teasers_jumped", baseline.teasers_per_page, recent.teasers_per_page))
    return changes


def observe(windows: DriftWindows, site: str, sample: PageSample, now: float) -> list[Change] | None:
    """Record a page of `site`; when its recent window fills, compare it with the baseline,
    raise or clear the site's alarm and log it. None while the windows fill."""
    full = windows.add(site, sample)
    if full is None:
        return None
    baseline, recent = figures(full[0]), figures(full[1])
    changes = compare(baseline, recent)
    if not changes:
        windows.adopt(site, full[1])
        if windows.clear_alarm(site):
            log.info("drift: %s extracts as before again; alarm cleared", site, extra={"outcome": "drift_cleared"})
        return changes
    windows.raise_alarm(site, alarm(site, changes, baseline, recent, now))
    log.warning(
        "drift: %s changed over its last %d pages: %s; its layout may have changed, check `newsflow explain` on a"
        " recent page",
        site,
        recent.pages,
        "; ".join(c.describe() for c in changes),
        extra={"outcome": "drift"},
    )
    return changes


def alarm(
    site: str, changes: list[Change], baseline: WindowFigures, recent: WindowFigures, now: float
) -> dict[str, Any]:
    """The alarm as `status --json` shows it."""
    return {
        "site": site,
        "at": now,
        "kinds": [c.kind for c in changes],
        "changes": [c.describe() for c in changes],
        "baseline": baseline.__dict__,
        "recent": recent.__dict__,
    }
