"""Per-site extraction figures for the drift alarm (`pipeline.drift` judges them).

Per site, two bounded lists of page samples: the baseline (up to `baseline` pages) and the
recent window (up to `recent` pages); the sizes are the caller's, from the settings. A page
first fills the baseline; later pages fill the recent window, and the page that fills it
takes both windows out in the same atomic step, so one worker compares each window once. A
recent window found normal joins the baseline (the oldest samples leave); one that drifted
does not, so the alarm stands for as long as the site keeps extracting differently, and
clears on the first normal window after it, or when an operator accepts the change
(`forget`). Alarms live in one hash, site -> JSON, read by `status` and `/metrics`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client, text


@dataclass(frozen=True)
class PageSample:
    """What one cleaned (or dropped) page tells about its site's extraction (`pipeline.drift`)."""

    length: int  # characters of the cleaned body (0 when no text was found)
    no_text: bool
    teasers: int

    def encode(self) -> str:
        return f"{self.length},{int(self.no_text)},{self.teasers}"

    @classmethod
    def decode(cls, raw: str | bytes) -> PageSample:
        length, no_text, teasers = (int(x) for x in text(raw).split(","))
        return cls(length, bool(no_text), teasers)


# KEYS: baseline list, recent list. ARGV: sample, baseline size, recent size.
# Returns {} while the windows fill ({1} for the site's first sample), else {baseline samples,
# recent samples} (recent emptied).
_ADD = """
if redis.call('LLEN', KEYS[1]) < tonumber(ARGV[2]) then
  return {redis.call('RPUSH', KEYS[1], ARGV[1]) == 1 and 1 or nil}
end
if redis.call('RPUSH', KEYS[2], ARGV[1]) < tonumber(ARGV[3]) then
  return {}
end
local recent = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return {redis.call('LRANGE', KEYS[1], 0, -1), recent}
"""


WINDOWS = ("baseline", "recent")


class DriftWindows:
    def __init__(self, client: Client) -> None:
        self.r = client
        self._add = client.register_script(_ADD)

    def add(
        self, site: str, sample: PageSample, baseline: int, recent: int
    ) -> tuple[list[PageSample], list[PageSample]] | None:
        """Record one page; when this page fills the recent window, (baseline, recent) to compare."""
        site_keys = [keys.drift(site, window) for window in WINDOWS]
        out = self._add(keys=site_keys, args=[sample.encode(), baseline, recent])
        if out:  # the site's first sample, or a full window (again, in case the first was lost)
            self.r.sadd(keys.DRIFT_SITES, site)
        if len(out) < 2:
            return None
        base, recent_window = ([PageSample.decode(x) for x in part] for part in out)
        return base, recent_window

    def adopt(self, site: str, samples: list[PageSample], baseline: int) -> None:
        """A normal recent window joins the baseline, which keeps its newest `baseline` pages."""
        key = keys.drift(site, "baseline")
        pipe = self.r.pipeline(transaction=True)
        pipe.rpush(key, *(s.encode() for s in samples))
        pipe.ltrim(key, -baseline, -1)
        pipe.execute()

    def sizes(self, site: str) -> tuple[int, int]:
        """Pages held in the site's baseline and recent windows."""
        pipe = self.r.pipeline(transaction=False)
        for window in WINDOWS:
            pipe.llen(keys.drift(site, window))
        baseline, recent = pipe.execute()
        return int(baseline), int(recent)

    def sites(self) -> list[str]:
        """Every site with a window or a standing alarm, sorted."""
        if not self.r.exists(keys.DRIFT_SITES):
            self._adopt_earlier_sites()
        found = {text(site) for site in self.r.smembers(keys.DRIFT_SITES)}
        found.update(text(site) for site in self.r.hkeys(keys.DRIFT_ALARMS))
        return sorted(found)

    def _adopt_earlier_sites(self) -> None:
        """Windows a newsflow before the set of watched sites wrote (or none yet): found by a
        scan of the keyspace, once, and added to the set."""
        # The pattern and the site's place in a key come from the one spelling of the key in `keys`.
        head, tail = keys.drift("\0", "baseline").split("\0")
        found = {text(k)[len(head) : -len(tail)] for k in self.r.scan_iter(match=f"{head}*{tail}", count=1000)}
        if found:
            self.r.sadd(keys.DRIFT_SITES, *found)

    def forget(self, site: str) -> bool:
        """Drop the site's windows, then its alarm: a page arriving in between starts the new
        baseline rather than being compared with the old one. False when nothing was kept."""
        self.r.srem(keys.DRIFT_SITES, site)  # first: a page arriving after the windows go adds it again
        dropped = self.r.delete(*(keys.drift(site, window) for window in WINDOWS))
        cleared = self.clear_alarm(site)
        return bool(dropped) or cleared

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
