"""Per-site extraction figures for the drift alarm (`pipeline.drift` judges them).

Per site, two bounded lists of page samples: the baseline (up to `baseline` pages) and the
recent window (up to `recent` pages). A page first fills the baseline; later pages fill the
recent window, and the page that fills it takes both windows out in the same atomic step,
so one worker compares each window once. A recent window found normal joins the baseline
(the oldest samples leave); one that drifted does not, so the alarm stands for as long as
the site keeps extracting differently, and clears on the first normal window after it.
Alarms live in one hash, site -> JSON, read by `status` and `/metrics`.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.drift import BASELINE_PAGES, RECENT_PAGES, PageSample
from pipeline.state import keys
from pipeline.state.client import Client

# KEYS: baseline list, recent list. ARGV: sample, baseline size, recent size.
# Returns {} while the windows fill, else {baseline samples, recent samples} (recent emptied).
_ADD = """
if redis.call('LLEN', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('RPUSH', KEYS[1], ARGV[1])
  return {}
end
if redis.call('RPUSH', KEYS[2], ARGV[1]) < tonumber(ARGV[3]) then
  return {}
end
local recent = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return {redis.call('LRANGE', KEYS[1], 0, -1), recent}
"""


class DriftWindows:
    def __init__(self, client: Client, baseline: int = BASELINE_PAGES, recent: int = RECENT_PAGES) -> None:
        self.r = client
        self.baseline = baseline
        self.recent = recent
        self._add = client.register_script(_ADD)

    def add(self, site: str, sample: PageSample) -> tuple[list[PageSample], list[PageSample]] | None:
        """Record one page; when this page fills the recent window, (baseline, recent) to compare."""
        site_keys = [keys.drift(site, "baseline"), keys.drift(site, "recent")]
        out = self._add(keys=site_keys, args=[sample.encode(), self.baseline, self.recent])
        if not out:
            return None
        base, recent = ([PageSample.decode(x) for x in part] for part in out)
        return base, recent

    def adopt(self, site: str, samples: list[PageSample]) -> None:
        """A normal recent window joins the baseline, which keeps its newest `baseline` pages."""
        key = keys.drift(site, "baseline")
        pipe = self.r.pipeline(transaction=True)
        pipe.rpush(key, *(s.encode() for s in samples))
        pipe.ltrim(key, -self.baseline, -1)
        pipe.execute()

    def raise_alarm(self, site: str, alarm: dict[str, Any]) -> None:
        """Keep the site's alarm; `at` stays that of the first window that drifted."""
        old = self.alarm(site)
        if old is not None:
            alarm = {**alarm, "at": old["at"]}
        self.r.hset(keys.DRIFT_ALARMS, site, json.dumps(alarm, ensure_ascii=False))

    def clear_alarm(self, site: str) -> bool:
        return bool(self.r.hdel(keys.DRIFT_ALARMS, site))

    def alarm(self, site: str) -> dict[str, Any] | None:
        raw = self.r.hget(keys.DRIFT_ALARMS, site)
        return json.loads(raw) if raw else None

    def alarms(self) -> list[dict[str, Any]]:
        """Every standing alarm, by site."""
        found = [json.loads(raw) for raw in self.r.hvals(keys.DRIFT_ALARMS)]
        return sorted(found, key=lambda a: a["site"])
