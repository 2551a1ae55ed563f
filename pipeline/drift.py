"""Extraction drift: has a site's cleaning changed (a redesign) since its pages were learned?

Each cleaned (or dropped) page of a site leaves a `PageSample`: its body length, whether
cleaning found no article text, and how many teasers it removed. A site's samples fill a
baseline window (`baseline_pages`), then a recent window (`recent_pages`); when the recent
window is full, `compare` sets it against the baseline. A drift is one of:

- `body_length_fell`: the median body length fell below `length_ratio` of the baseline's;
- `no_text_rose`: the share of pages with no article text rose by `no_text_rise` or more;
- `teasers_jumped`: teasers removed per page grew past `teaser_ratio` times the baseline's
  (plus `teaser_floor`, so a site with none does not alarm on one).

The limits are settings (`NEWSFLOW_DRIFT_*`, see `pipeline.settings`). `figures` and
`compare` are pure; `observe` runs them on the windows kept in Redis (`pipeline.state.drift`)
and raises, or clears, the site's alarm; `accept` takes a redesign as the site's new normal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from statistics import median
from typing import TYPE_CHECKING, Any

from pipeline.settings import SettingsView, setting
from pipeline.state.drift import DriftWindows, PageSample

if TYPE_CHECKING:
    from pipeline.state import StateStore

log = logging.getLogger("newsflow.drift")


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
class DriftLimits(SettingsView):
    """The windows and thresholds of the drift alarm (see `pipeline.settings` for each)."""

    baseline_pages: int = setting("drift_baseline_pages")  # the oldest leave as new normal windows join
    recent_pages: int = setting("drift_recent_pages")  # compared with the baseline at a time
    length_ratio: float = setting("drift_length_ratio")
    no_text_rise: float = setting("drift_no_text_rise")
    teaser_ratio: float = setting("drift_teaser_ratio")
    teaser_floor: float = setting("drift_teaser_floor")


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


def compare(baseline: WindowFigures, recent: WindowFigures, limits: DriftLimits = DriftLimits()) -> list[Change]:
    """The ways `recent` departs from `baseline` (none: the site extracts as it did)."""
    changes = []
    if baseline.median_length > 0 and recent.median_length < baseline.median_length * limits.length_ratio:
        changes.append(Change("body_length_fell", baseline.median_length, recent.median_length))
    if recent.no_text_share - baseline.no_text_share >= limits.no_text_rise:
        changes.append(Change("no_text_rose", baseline.no_text_share, recent.no_text_share))
    if recent.teasers_per_page > baseline.teasers_per_page * limits.teaser_ratio + limits.teaser_floor:
        changes.append(Change("teasers_jumped", baseline.teasers_per_page, recent.teasers_per_page))
    return changes


def observe(
    windows: DriftWindows, site: str, sample: PageSample, now: float, limits: DriftLimits = DriftLimits()
) -> list[Change] | None:
    """Record a page of `site`; when its recent window fills, compare it with the baseline,
    raise or clear the site's alarm and log it. None while the windows fill."""
    full = windows.add(site, sample, limits.baseline_pages, limits.recent_pages)
    if full is None:
        return None
    baseline, recent = figures(full[0]), figures(full[1])
    changes = compare(baseline, recent, limits)
    if not changes:
        windows.adopt(site, full[1], limits.baseline_pages)
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


def site_states(windows: DriftWindows, limits: DriftLimits) -> list[dict[str, Any]]:
    """Each watched site's windows (pages held of how many) and standing alarm, by site:
    what `newsflow drift list` shows."""
    alarms = {alarm["site"]: alarm for alarm in windows.alarms()}
    states = []
    for site in windows.sites():
        baseline, recent = windows.sizes(site)
        states.append(
            {
                "site": site,
                "baseline_pages": baseline,
                "baseline_target": limits.baseline_pages,
                "recent_pages": recent,
                "recent_target": limits.recent_pages,
                "alarm": alarms.get(site),
            }
        )
    return states


def accept(state: StateStore, site: str) -> bool:
    """Take `site`'s current extraction as its new normal: its alarm and both windows go, so its
    next fresh pages form a new baseline. Kept as an operator event. False: nothing was kept for it."""
    alarm = state.drift.alarm(site)
    baseline, _ = state.drift.sizes(site)
    if not state.drift.forget(site):
        return False
    was = f"alarm ({'; '.join(alarm['changes'])}) cleared" if alarm else "no alarm stood"
    message = f"drift: accepted {site}'s current extraction; {was}, its baseline of {baseline} page(s) dropped"
    state.counters.event("drift_accepted", message, site=site)
    log.info(message, extra={"outcome": "drift_accepted"})
    return True
