"""When each feed is polled next: a registry of feeds and their next-poll times in Redis.

The interval of a feed adapts to how often it really publishes (about one new item per poll),
is floored by what the feed and server say (RSS `ttl`, `sy:updatePeriod`, `Cache-Control`,
`Expires`) and kept within the operator's bounds; a `Retry-After` pushes the next poll past it.
Errors back off exponentially with jitter up to a cap, and never stop a feed being polled.
The planning functions are pure and take `now`, so a test can run a day in a loop.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pipeline.errors import HostBusy
from pipeline.feeds import FeedConfig, PollResult, poll_feed
from pipeline.fetching import PageFetcher
from pipeline.settings import SettingsView, setting
from pipeline.state import StateStore

LEASE = 300.0  # a claimed feed is not handed out again for this long unless rescheduled
MAX_BACKOFF = 6 * 3600.0


def register_feeds(state: StateStore, feeds: list[FeedConfig], now: float) -> None:
    """Add or update feeds; a new feed is due at once, a known one keeps its schedule (paused stays paused)."""
    state.feeds.register({feed.id: feed.model_dump_json() for feed in feeds}, now)


def remove_feed(state: StateStore, feed_id: str) -> bool:
    """Forget a feed: its config, schedule, state and GUID memory (seen URLs stay seen)."""
    return state.feeds.remove(feed_id)


def pause_feed(state: StateStore, feed_id: str) -> bool:
    """Stop polling a feed until resumed; its state is kept. False if the feed is unknown."""
    if not state.feeds.exists(feed_id):
        return False
    state.feeds.unschedule(feed_id)
    state.feeds.update(feed_id, paused=1, next_poll="")
    return True


def resume_feed(state: StateStore, feed_id: str, now: float) -> bool:
    """Poll a paused feed again, at once. False if the feed is unknown."""
    if not state.feeds.exists(feed_id):
        return False
    state.feeds.schedule(feed_id, now, only_known=False)
    state.feeds.update(feed_id, paused="")
    return True


def find_feed(state: StateStore, ref: str) -> FeedConfig | None:
    """A registered feed by id, or by URL (canonicalised)."""
    feed = get_feed(state, ref)
    if feed is not None:
        return feed
    try:
        return get_feed(state, FeedConfig(url=ref).id)
    except ValueError:
        return None


def all_feeds(state: StateStore) -> list[FeedConfig]:
    return [FeedConfig.model_validate(c) for c in state.feeds.configs()]


def get_feed(state: StateStore, feed_id: str) -> FeedConfig | None:
    config = state.feeds.config(feed_id)
    return FeedConfig.model_validate(config) if config else None


def claim_due(state: StateStore, now: float, limit: int = 500) -> list[FeedConfig]:
    """The feeds due by `now`; each is not handed out again for `LEASE` seconds unless rescheduled."""
    feeds = []
    for feed_id in state.feeds.claim_due(now, LEASE, limit):
        feed = get_feed(state, feed_id)
        if feed is not None:
            feeds.append(feed)
    return feeds


@dataclass
class PollPolicy(SettingsView):
    """The operator's bounds on polling (see `pipeline.settings`)."""

    default_interval: float = setting("feed_interval")
    min_interval: float = setting("feed_min_interval")
    max_interval: float = setting("feed_max_interval")
    error_backoff_max: float = setting("feed_error_backoff_max")

    def clamp(self, seconds: float) -> float:
        return min(self.max_interval, max(self.min_interval, seconds))


def adapt_interval(current: float, new_items: int) -> float:
    """Aim at about one new item per poll: slow down when nothing came, speed up when many did."""
    if new_items <= 0:
        return current * 1.5
    if new_items == 1:
        return current
    return current / min(new_items, 4)


def cache_floor(headers: dict[str, str], now: float) -> float | None:
    """Seconds the server says the feed stays fresh (Cache-Control max-age, else Expires)."""
    cc = headers.get("cache-control", "").lower()
    for part in cc.split(","):
        key, _, value = part.strip().partition("=")
        if key in ("no-store", "no-cache"):
            return None
        if key in ("max-age", "s-maxage") and value.strip().strip('"').isdigit():
            return float(value.strip().strip('"'))
    expires = headers.get("expires")
    if expires:
        try:
            when = parsedate_to_datetime(expires).timestamp()
        except (TypeError, ValueError, OverflowError):
            return None
        date = headers.get("date")
        try:
            base = parsedate_to_datetime(date).timestamp() if date else now
        except (TypeError, ValueError, OverflowError):
            base = now
        return max(0.0, when - base)
    return None


def next_interval(
    current: float | None,
    new_items: int,
    policy: PollPolicy,
    *,
    fixed: float | None = None,
    ttl_minutes: int | None = None,
    update_period: float | None = None,
    cache_seconds: float | None = None,
) -> float:
    """The feed's next interval: adapted (or the operator's fixed one), floored by the feed's and
    the server's hints, within [min_interval, max_interval]."""
    base = fixed if fixed else adapt_interval(current or policy.default_interval, new_items)
    hints = [h for h in (ttl_minutes * 60.0 if ttl_minutes else None, update_period, cache_seconds) if h]
    return policy.clamp(max([base, *hints]))


def next_poll_after(
    interval: float,
    consecutive_errors: int,
    now: float,
    cap: float = MAX_BACKOFF,
    rand: Callable[[], float] = random.random,
) -> float:
    """Next poll time: the interval, or an exponential backoff with jitter after errors.

    Errors slow a feed down, up to `cap` (never below the interval); they never stop it being polled.
    """
    if consecutive_errors <= 0:
        return now + interval
    backoff = min(max(cap, interval), interval * (2 ** min(consecutive_errors, 16)))
    # Jitter down only (0.75..1.0), so the cap holds and failing feeds do not retry in step.
    return float(now + backoff * (0.75 + 0.25 * rand()))


def plan_after_poll(
    state: StateStore,
    feed: FeedConfig,
    policy: PollPolicy,
    now: float,
    *,
    new_items: int,
    headers: dict[str, str],
    retry_after: float | None = None,
) -> float:
    """After a successful poll: adapt the feed's interval, store it, and schedule the next poll."""
    st = state.feed_state(feed.id)
    interval = next_interval(
        float(st["interval"]) if st.get("interval") else None,
        new_items,
        policy,
        fixed=feed.interval,
        ttl_minutes=int(st["ttl"]) if st.get("ttl") else None,
        update_period=float(st["update_period"]) if st.get("update_period") else None,
        cache_seconds=cache_floor(headers, now),
    )
    when = now + max(interval, retry_after or 0.0)
    state.update_feed_state(feed.id, interval=round(interval, 1))
    reschedule(state, feed.id, when)
    return when


def plan_after_failure(
    state: StateStore, feed: FeedConfig, policy: PollPolicy, now: float, *, retry_after: float | None = None
) -> float:
    """After a failed poll: back off by the consecutive errors (with jitter), past any Retry-After."""
    st = state.feed_state(feed.id)
    interval = feed.interval or (float(st["interval"]) if st.get("interval") else policy.default_interval)
    errors = int(st.get("consecutive_errors") or 1)
    when = max(next_poll_after(interval, errors, now, policy.error_backoff_max), now + (retry_after or 0.0))
    reschedule(state, feed.id, when)
    return when


def defer(state: StateStore, feed_id: str, when: float) -> None:
    """Move a feed's next poll to `when` without judging it (its host asked us to wait)."""
    reschedule(state, feed_id, when)


def reschedule(state: StateStore, feed_id: str, when: float) -> None:
    state.feeds.schedule(feed_id, when)


def poll_and_plan(
    feed: FeedConfig,
    *,
    fetcher: PageFetcher,
    state: StateStore,
    policy: PollPolicy,
    max_bytes: int,
    verify_every: int = 0,
    now: float | None = None,
    plan: bool = True,
) -> PollResult:
    """Poll a feed, then plan its next poll whatever happened (with `plan`), and re-raise failures.

    A host in back-off defers the feed to when the host may be asked again, without an error;
    any failure (even a bug) backs the feed off and keeps it scheduled.
    """
    now = time.time() if now is None else now
    try:
        result = poll_feed(feed, fetcher, state, max_bytes, verify_every=verify_every, now=now)
    except HostBusy as exc:
        if plan:
            wait = exc.retry_after or policy.min_interval
            defer(state, feed.id, now + wait + random.uniform(0, max(1.0, wait * 0.1)))
        state.incr("feeds_deferred")
        raise
    except Exception as exc:
        if plan:
            plan_after_failure(state, feed, policy, now, retry_after=getattr(exc, "retry_after", None))
        raise
    state.incr("feeds_polled")
    if result.outcome != "read":
        state.incr(f"feeds_{result.outcome}")
    if plan:
        plan_after_poll(state, feed, policy, now, new_items=len(result.new_entries), headers=result.headers)
    return result


def feed_health(state: StateStore, now: float | None = None) -> list[dict[str, Any]]:
    """Every registered feed with its health, for `newsflow status` and `newsflow feeds list`.

    health: `ok`, `failing` (with since when and how many errors in a row), `paused`, or `new`.
    """
    now = time.time() if now is None else now
    nexts = state.feeds.next_polls()
    out = []
    for feed in sorted(all_feeds(state), key=lambda f: f.url):
        st = state.feed_state(feed.id)
        errors = int(st.get("consecutive_errors") or 0)
        if st.get("paused"):
            health = "paused"
        elif errors:
            health = "failing"
        else:
            health = "ok" if st.get("last_success") else "new"
        polls = int(st.get("polls") or 0)
        out.append(
            {
                "id": feed.id,
                "url": feed.url,
                "site": feed.site_name,
                "health": health,
                "failing_since": _iso(st.get("failing_since")) if errors else None,
                "consecutive_errors": errors,
                "last_error": (st.get("last_error") or None) if errors else None,
                "last_error_at": _iso(st.get("last_error_at")),
                "last_success": _iso(st.get("last_success")),
                "last_new_item": _iso(st.get("last_new_item")),
                "next_poll": _iso(nexts.get(feed.id)),
                "interval": float(st["interval"]) if st.get("interval") else None,
                "items_seen": int(st.get("items_seen") or 0),
                # Items not taken (a javascript: link, a JSON Feed item of the wrong type...), by reason.
                "items_skipped": {
                    k.split(":", 1)[1]: int(v) for k, v in sorted(st.items()) if k.startswith("items_skipped:")
                },
                "polls": polls,
                "polls_304": int(st.get("polls_304") or 0),
                "polls_unchanged": int(st.get("polls_unchanged") or 0),
                "validators": "ignored (they lied)" if st.get("validators") == "lie" else "used",
            }
        )
    return out


def _iso(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(float(value), UTC).isoformat(timespec="seconds")
