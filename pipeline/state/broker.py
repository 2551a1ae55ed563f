"""The Celery broker's keys in our Redis: the one module that knows kombu's Redis layout.

kombu's Redis transport (the version pinned in requirements.lock) keeps:

- each queue as a list, `<queue>`; a message with a priority in a sibling list
  `<queue>\\x06\\x16<step>` for the steps 3, 6 and 9 (a priority is filed under the highest
  step not above it); producers push on the left, consumers pop from the right;
- each message a worker took and has not acknowledged in the hash `unacked` (delivery tag ->
  JSON `[message, exchange, routing key]`) and its time of taking in the sorted set
  `unacked_index`; a consumer whose visibility timeout passes puts such messages back;
- the queues bound to an exchange in the set `_kombu.binding.<exchange>`, each member
  `<routing key>\\x06\\x16<pattern>\\x06\\x16<queue>`;
- a message as JSON whose `headers` carry Celery's task id (`id`) and name (`task`), and
  whose `properties` carry `priority` and `delivery_info`.

`tests/state/test_kombu_layout.py` publishes and consumes with the real kombu and checks each
of these; if an upgrade moves any, it fails there, not silently in redelivery.

Reading them tells an operator what waits, and tells the reconciler what the broker carries.
`restore` puts a taken message back on its queue as kombu does when a worker shuts down
(marked redelivered), so a message whose worker died or whose acknowledgement was lost is
delivered again at once instead of after the visibility timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import WatchError

from pipeline.state.client import Client, text

UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"
SEP = "\x06\x16"  # kombu's separator in priority queue names and binding members
PRIORITY_STEPS = (0, 3, 6, 9)


def queue_key(name: str, priority: int = 0) -> str:
    """A queue's list; non-zero priority steps live in sibling lists."""
    return name if not priority else f"{name}{SEP}{priority}"


def binding_key(exchange: str) -> str:
    """The set of (routing key, pattern, queue) bindings of an exchange."""
    return f"_kombu.binding.{exchange}"


def priority_step(priority: object) -> int:
    """The list a message of this priority is filed under (kombu: the highest step not above it)."""
    try:
        value = int(priority or 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
    return max(step for step in PRIORITY_STEPS if step <= max(0, value))


@dataclass(frozen=True)
class Held:
    """A message a worker took and has not acknowledged: its delivery tag, task id and name,
    the queue it came from, and when it was taken."""

    tag: str
    task_id: str
    task: str
    queue: str
    since: float


def message_id(raw: str | bytes) -> str:
    """The Celery task id of a queued message ('' when it is not one of Celery's)."""
    try:
        headers = json.loads(raw).get("headers") or {}
    except (ValueError, AttributeError):
        return ""
    return str(headers.get("id") or "")


class BrokerView:
    """kombu's queues and unacknowledged messages, read, and put back."""

    def __init__(self, client: Client, queues: Iterable[str]) -> None:
        self.r = client
        self.queues = tuple(queues)

    # -- counting (what a reconciliation pass reads whatever the backlog) ------------------------
    def count_waiting(self, pipe: Any) -> None:
        """Queue on `pipe` the length of every queue's lists (read back with `waiting_counts`)."""
        for q in self.queues:
            for step in PRIORITY_STEPS:
                pipe.llen(queue_key(q, step))

    def waiting_counts(self, replies: list[Any]) -> dict[str, int]:
        """Messages waiting per queue, from the replies of `count_waiting`."""
        n = len(PRIORITY_STEPS)
        return {q: sum(int(x) for x in replies[i * n : (i + 1) * n]) for i, q in enumerate(self.queues)}

    def read_held(self, pipe: Any) -> None:
        """Queue on `pipe` the reads of the held messages (read back with `held_from`)."""
        pipe.hgetall(UNACKED)
        pipe.zrange(UNACKED_INDEX, 0, -1, withscores=True)

    def held_from(self, replies: list[Any]) -> list[Held]:
        """The held messages, from the replies of `read_held`."""
        raw_held, index = replies
        since = {text(tag): float(score) for tag, score in index}
        out = []
        for raw_tag, raw in raw_held.items():
            tag = text(raw_tag)
            try:
                message, _exchange, routing_key = json.loads(raw)
                headers = message.get("headers") or {}
            except (ValueError, TypeError, AttributeError):
                continue
            out.append(
                Held(
                    tag,
                    str(headers.get("id") or ""),
                    str(headers.get("task") or ""),
                    str(routing_key),
                    since.get(tag, 0.0),
                )
            )
        return out

    def depths(self) -> dict[str, int]:
        """Messages waiting in each queue (priority lists included)."""
        pipe = self.r.pipeline(transaction=False)
        self.count_waiting(pipe)
        return self.waiting_counts(pipe.execute())

    def in_flight(self) -> int:
        """Messages workers hold without having acknowledged them."""
        return int(self.r.hlen(UNACKED))

    def held(self) -> list[Held]:
        """Every message held by a worker, with when it was taken."""
        pipe = self.r.pipeline(transaction=False)
        self.read_held(pipe)
        return self.held_from(pipe.execute())

    def queued_ids(self, queue: str, page: int = 10_000) -> set[str]:
        """Task ids of every message waiting in one queue: read only where counts disagree, a
        page at a time from the left (producers push there, so a page read twice is possible,
        one skipped is not; workers pop from the right, which moves no index)."""
        ids: set[str] = set()
        for step in PRIORITY_STEPS:
            start = 0
            while chunk := self.r.lrange(queue_key(queue, step), start, start + page - 1):
                ids.update(message_id(raw) for raw in chunk)
                start += len(chunk)
        return ids - {""}

    def oldest_ages(self, header: str, now: float | None = None) -> dict[str, float | None]:
        """Per queue, seconds since the next message to be taken was published (None when the
        queue is empty, or the message carries no `header` with its publish time)."""
        now = time.time() if now is None else now
        pipe = self.r.pipeline(transaction=False)
        for q in self.queues:
            pipe.lindex(queue_key(q), -1)  # workers take from the right: the oldest message
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

    # -- putting back ----------------------------------------------------------------------------
    def restore(self, tags: Iterable[str]) -> int:
        """Put held messages back on their queues (marked redelivered); returns how many moved."""
        return sum(1 for tag in tags if self._restore_one(tag))

    def _restore_one(self, tag: str) -> bool:
        raw = self.r.hget(UNACKED, tag)
        if raw is None:
            return False
        try:
            message, exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            return False
        targets = self._lookup(str(exchange), str(routing_key))
        step = priority_step((message.get("properties") or {}).get("priority"))
        try:
            message["headers"]["redelivered"] = True
            message["properties"]["delivery_info"]["redelivered"] = True
        except (KeyError, TypeError):
            pass
        body = json.dumps(message)
        with self.r.pipeline(transaction=True) as pipe:
            pipe.watch(UNACKED)  # type: ignore[no-untyped-call]  # untyped in redis-py
            if pipe.hget(UNACKED, tag) is None:  # acknowledged meanwhile
                return False
            pipe.multi()
            pipe.zrem(UNACKED_INDEX, tag)
            pipe.hdel(UNACKED, tag)
            for q in targets:
                pipe.rpush(queue_key(q, step), body)  # the end workers take from next
            try:
                pipe.execute()
            except WatchError:  # acknowledged meanwhile: nothing to do
                return False
        return True

    def _lookup(self, exchange: str, routing_key: str) -> list[str]:
        """The queues bound to an exchange under a routing key (kombu's binding sets)."""
        found = []
        for raw in self.r.smembers(binding_key(exchange)):
            rk, _pattern, queue = text(raw).split(SEP, 2)
            if rk == routing_key or not rk:
                found.append(queue)
        return found or ([routing_key] if routing_key in self.queues else [])
