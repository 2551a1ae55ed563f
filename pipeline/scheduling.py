"""When each feed is polled next: a registry of feeds and their next-poll times in Redis."""

from __future__ import annotations

import json
import random

from pipeline.feeds import FeedConfig
from pipeline.state import FEEDS_KEY, PREFIX, StateStore, text

NEXT_KEY = PREFIX + "feeds:next"  # zset: feed id -> next poll (unix time)
LEASE = 300.0  # a claimed feed is not handed out again for this long unless rescheduled
MAX_BACKOFF = 6 * 3600.0

# Take the due feeds and push their next time forward by the lease in one step, so two
# schedulers (or a scheduler restarted mid-tick) never queue the same poll twice.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), id) end
return due
"""


def register_feeds(state: StateStore, feeds: list[FeedConfig], now: float) -> None:
    """Add or update feeds; a new feed is due at once, a known one keeps its schedule."""
    if not feeds:
        return
    pipe = state.r.pipeline()
    for feed in feeds:
        pipe.hset(FEEDS_KEY, feed.id, feed.model_dump_json())
        pipe.zadd(NEXT_KEY, {feed.id: now}, nx=True)
    pipe.execute()


def remove_feed(state: StateStore, feed_id: str) -> bool:
    pipe = state.r.pipeline()
    pipe.hdel(FEEDS_KEY, feed_id)
    pipe.zrem(NEXT_KEY, feed_id)
    removed, _ = pipe.execute()
    return bool(removed)


def all_feeds(state: StateStore) -> list[FeedConfig]:
    return [FeedConfig.model_validate(json.loads(v)) for v in state.r.hvals(FEEDS_KEY)]


def get_feed(state: StateStore, feed_id: str) -> FeedConfig | None:
    raw = state.r.hget(FEEDS_KEY, feed_id)
    return FeedConfig.model_validate(json.loads(raw)) if raw else None


def claim_due(state: StateStore, now: float, limit: int = 500) -> list[FeedConfig]:
    # redis-py types eval's reply loosely; the script returns a list of ids.
    ids: list[bytes] = state.r.eval(_CLAIM_DUE, 1, NEXT_KEY, repr(now), repr(LEASE), limit)  # type: ignore[assignment]
    feeds = []
    for feed_id in ids:
        feed = get_feed(state, text(feed_id))
        if feed is not None:
            feeds.append(feed)
    return feeds


def next_poll_after(interval: float, consecutive_errors: int, now: float) -> float:
    """Next poll time: the interval, or an exponential backoff with jitter after errors.

    Errors slow a feed down, up to MAX_BACKOFF; they never stop it being polled.
    """
    if consecutive_errors <= 0:
        return now + interval
    backoff = min(MAX_BACKOFF, interval * (2 ** min(consecutive_errors, 16)))
    return now + backoff * random.uniform(0.8, 1.2)


def reschedule(state: StateStore, feed_id: str, when: float) -> None:
    state.r.zadd(NEXT_KEY, {feed_id: when}, xx=True)
    state.update_feed_state(feed_id, next_poll=when)


def next_polls(state: StateStore) -> dict[str, float]:
    pairs: list[tuple[bytes, float]] = state.r.zrange(NEXT_KEY, 0, -1, withscores=True)  # type: ignore[assignment]
    return {text(k): float(v) for k, v in pairs}
