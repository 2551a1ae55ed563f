"""Counters every worker adds to, and a short log of events an operator should know about."""

from __future__ import annotations

import json
import time
from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client, text

MAX_EVENTS = 200


class Counters:
    def __init__(self, client: Client) -> None:
        self.r = client

    def incr(self, name: str, amount: int = 1) -> None:
        self.r.hincrby(keys.STATS, name, amount)

    def all(self) -> dict[str, int]:
        return {text(k): int(v) for k, v in self.r.hgetall(keys.STATS).items()}

    def event(self, kind: str, message: str, **fields: Any) -> None:
        """Keep an operator event (a worker restarted, Redis came back after an outage) and count it."""
        entry = {"at": time.time(), "kind": kind, "message": message, **fields}
        pipe = self.r.pipeline(transaction=False)
        pipe.lpush(keys.EVENTS, json.dumps(entry, ensure_ascii=False, default=str))
        pipe.ltrim(keys.EVENTS, 0, MAX_EVENTS - 1)
        pipe.hincrby(keys.STATS, kind, 1)
        pipe.execute()

    def events(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest events first."""
        return [json.loads(x) for x in self.r.lrange(keys.EVENTS, 0, max(0, limit - 1))]
