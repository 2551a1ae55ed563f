"""What the Celery broker holds, read from kombu's keys in the same Redis.

kombu's Redis transport keeps each queue as a list (priorities in sibling lists) and the
messages a worker took but has not acknowledged in the `unacked` hash (delivery tag ->
[message, exchange, routing key]) with their delivery time in `unacked_index`. Reading them
tells an operator what waits and lets the reconciler see which ledger items the broker still
carries. `restore` puts a taken message back on its queue exactly as kombu does when a
worker shuts down (marked redelivered), so a message whose worker died or whose
acknowledgement was lost is delivered again at once instead of after the visibility timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import WatchError

from pipeline.state import keys
from pipeline.state.client import Client, text


@dataclass(frozen=True)
class Taken:
    """A message a worker holds: its delivery tag, task id, task name and when it was taken."""

    tag: str
    task_id: str
    task: str
    since: float


def _message_id(message: dict[str, Any]) -> str:
    headers = message.get("headers") or {}
    return str(headers.get("id") or "")


class BrokerView:
    def __init__(self, client: Client, queues: Iterable[str]) -> None:
        self.r = client
        self.queues = tuple(queues)

    def depths(self) -> dict[str, int]:
        """Messages waiting in each queue (priority lists included)."""
        pipe = self.r.pipeline(transaction=False)
        for q in self.queues:
            for pri in keys.PRIORITY_STEPS:
                pipe.llen(keys.queue(q, pri))
        counts = pipe.execute()
        n = len(keys.PRIORITY_STEPS)
        return {q: sum(counts[i * n : (i + 1) * n]) for i, q in enumerate(self.queues)}

    def in_flight(self) -> int:
        """Messages workers hold without having acknowledged them."""
        return int(self.r.hlen(keys.UNACKED))

    def queued_ids(self) -> set[str]:
        """Task ids of every message waiting in a queue."""
        pipe = self.r.pipeline(transaction=False)
        for q in self.queues:
            for pri in keys.PRIORITY_STEPS:
                pipe.lrange(keys.queue(q, pri), 0, -1)
        ids: set[str] = set()
        for items in pipe.execute():
            for raw in items:
                try:
                    ids.add(_message_id(json.loads(raw)))
                except (ValueError, AttributeError):
                    continue
        return ids

    def taken(self) -> list[Taken]:
        """Every message held by a worker, with when it was taken."""
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(keys.UNACKED)
        pipe.zrange(keys.UNACKED_INDEX, 0, -1, withscores=True)
        held, index = pipe.execute()
        since = {text(tag): float(score) for tag, score in index}
        out = []
        for raw_tag, raw in held.items():
            tag = text(raw_tag)
            try:
                message = json.loads(raw)[0]
                headers = message.get("headers") or {}
            except (ValueError, IndexError, AttributeError):
                continue
            out.append(Taken(tag, str(headers.get("id") or ""), str(headers.get("task") or ""), since.get(tag, 0.0)))
        return out

    def oldest_ages(self, header: str, now: float | None = None) -> dict[str, float | None]:
        """Per queue, seconds since the next message to be taken was published (None when the
        queue is empty, or the message carries no `header` with its publish time)."""
        now = time.time() if now is None else now
        pipe = self.r.pipeline(transaction=False)
        for q in self.queues:
            pipe.lindex(keys.queue(q), -1)  # workers take from the right: the oldest message
        ages: dict[str, float | None] = {}
        for q, raw in zip(self.queues, pipe.execute(), strict=True):
            ages[q] = None
            if raw is None:
                continue
            try:
                sent = float((json.loads(raw).get("headers") or {})[header])
            except (ValueError, TypeError, AttributeError, KeyError):
                continue
            ages[q] = max(0.0, now - sent)
        return ages

    def live_ids(self) -> set[str]:
        """Task ids the broker still carries: queued, or held by a worker."""
        return self.queued_ids() | {t.task_id for t in self.taken()}

    def restore(self, tags: Iterable[str]) -> int:
        """Put held messages back on their queues (marked redelivered); returns how many moved."""
        moved = 0
        for tag in tags:
            if self._restore_one(tag):
                moved += 1
        return moved

    def restore_older_than(self, seconds: float, spare: set[str], now: float | None = None) -> int:
        """Restore held messages taken more than `seconds` ago, except those whose task id is in `spare`."""
        limit = (time.time() if now is None else now) - seconds
        return self.restore(t.tag for t in self.taken() if t.since < limit and t.task_id not in spare)

    def _restore_one(self, tag: str) -> bool:
        raw = self.r.hget(keys.UNACKED, tag)
        if raw is None:
            return False
        try:
            message, exchange, routing_key = json.loads(raw)
        except ValueError:
            return False
        targets = self._lookup(str(exchange), str(routing_key))
        priority = _priority(message)
        try:
            message["headers"]["redelivered"] = True
            message["properties"]["delivery_info"]["redelivered"] = True
        except (KeyError, TypeError):
            pass
        body = json.dumps(message)
        with self.r.pipeline(transaction=True) as pipe:
            pipe.watch(keys.UNACKED)  # type: ignore[no-untyped-call]  # untyped in redis-py
            if pipe.hget(keys.UNACKED, tag) is None:  # acknowledged meanwhile
                return False
            pipe.multi()
            pipe.zrem(keys.UNACKED_INDEX, tag)
            pipe.hdel(keys.UNACKED, tag)
            for q in targets:
                pipe.rpush(keys.queue(q, priority), body)  # the end workers take from next
            try:
                pipe.execute()
            except WatchError:  # acknowledged meanwhile: nothing to do
                return False
        return True

    def _lookup(self, exchange: str, routing_key: str) -> list[str]:
        """The queues bound to an exchange under a routing key (kombu's binding sets)."""
        found = []
        for raw in self.r.smembers(keys.binding(exchange)):
            rk, _pattern, queue = text(raw).split(keys.PRIORITY_SEP, 2)
            if rk == routing_key or not rk:
                found.append(queue)
        return found or ([routing_key] if routing_key in self.queues else [])


def _priority(message: dict[str, Any]) -> int:
    try:
        value = int(message["properties"].get("priority") or 0)
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0
    # kombu files a priority under the highest step not above it.
    return max(step for step in keys.PRIORITY_STEPS if step <= max(0, value))
