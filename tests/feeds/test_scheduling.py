"""The pure planning of polls: adaptive intervals, server hints, error back-off. The clock is a parameter."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from pipeline.scheduling import PollPolicy, cache_floor, next_interval, next_poll_after

POLICY = PollPolicy(default_interval=900, min_interval=120, max_interval=6 * 3600, error_backoff_max=6 * 3600)
DAY = 86400.0


def test_a_feed_failing_for_a_day_is_still_polled_less_often() -> None:
    """A feed that fails every poll for 24 h keeps being polled, with gaps that grow up to the cap, never beyond."""
    rng = random.Random(7)
    now = start = 1_700_000_000.0
    interval = 900.0
    errors = 0
    gaps = []
    while now - start < DAY:
        errors += 1  # every poll fails
        nxt = next_poll_after(interval, errors, now, POLICY.error_backoff_max, rand=rng.random)
        gaps.append(nxt - now)
        now = nxt
    assert len(gaps) >= 4  # still polled through the day
    assert gaps[0] > interval  # less often than a healthy feed ...
    assert max(gaps) <= POLICY.error_backoff_max  # ... but never less often than the cap allows
    assert gaps[-1] > gaps[0]
    # and once the host answers again, the feed is back on its ordinary interval
    assert next_poll_after(interval, 0, now) == now + interval


def test_error_backoff_has_jitter() -> None:
    """Feeds failing in step do not retry in step."""
    times = {next_poll_after(900, 3, 0.0, rand=random.Random(seed).random) for seed in range(20)}
    assert len(times) > 10


@given(
    current=st.floats(min_value=1, max_value=1e6),
    new_items=st.integers(min_value=0, max_value=1000),
    ttl=st.one_of(st.none(), st.integers(min_value=0, max_value=100000)),
    period=st.one_of(st.none(), st.floats(min_value=0, max_value=1e7)),
    cache=st.one_of(st.none(), st.floats(min_value=0, max_value=1e7)),
)
def test_interval_always_within_operator_bounds(
    current: float, new_items: int, ttl: int | None, period: float | None, cache: float | None
) -> None:
    """Whatever the feed and server say, the interval stays within [min_interval, max_interval]."""
    got = next_interval(current, new_items, POLICY, ttl_minutes=ttl, update_period=period, cache_seconds=cache)
    assert POLICY.min_interval <= got <= POLICY.max_interval


def test_interval_follows_how_often_the_feed_publishes() -> None:
    """Nothing new slows polling down; several new items per poll speed it up; one per poll keeps it."""
    assert next_interval(900, 0, POLICY) > 900
    assert next_interval(900, 3, POLICY) < 900
    assert next_interval(900, 1, POLICY) == 900


def test_server_and_feed_hints_floor_the_interval() -> None:
    """TTL, sy:updatePeriod and Cache-Control keep a busy feed from being polled faster than they allow."""
    assert next_interval(900, 10, POLICY, ttl_minutes=60) == 3600
    assert next_interval(900, 10, POLICY, update_period=1800) == 1800
    assert next_interval(900, 10, POLICY, cache_seconds=1200) == 1200
    assert next_interval(900, 10, POLICY, fixed=300) == 300  # the operator's fixed interval is not adapted


def test_cache_headers_are_read() -> None:
    """max-age wins over Expires; no-cache gives no floor; Expires counts from the server's Date."""
    assert cache_floor({"cache-control": "public, max-age=600"}, 0) == 600
    assert cache_floor({"cache-control": "no-cache, max-age=600"}, 0) is None
    headers = {"expires": "Thu, 01 Jan 2026 00:10:00 GMT", "date": "Thu, 01 Jan 2026 00:00:00 GMT"}
    assert cache_floor(headers, 0) == 600
    assert cache_floor({"expires": "garbage"}, 0) is None
