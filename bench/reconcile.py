"""What one reconciliation pass costs with a backlog: time and Redis commands, by queue size.

    .venv/bin/python bench/reconcile.py [--sizes 1000 1000000] [--passes 5]

For each size: a fresh embedded redis-server of its own (a temporary data directory), then
that many fetch items, each in the work ledger as published and each with a real Celery
message in the `fetch` queue (the message Celery publishes for a fetch, its id changed).
Then it measures:

- a quiet pass (`workers.handoff.reconcile`, the grace long past, nothing lost): the median
  time and the Redis commands it sent (`total_commands_processed`, the measuring command
  itself taken off), over `--passes` passes;
- what the reconciler read before it counted (every ledger item sent before the grace, and
  every queued message), once, for comparison;
- a pass after one message vanished from the queue: the counts disagree, so it reads the
  `fetch` queue and publishes the lost item again.

The quiet pass should cost the same at every size; the pass that finds a loss reads the
backlog of the one stage that lost it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import stop_cleanly_on_sigterm  # noqa: E402
from pipeline.stages import QUEUES, fetch_work  # noqa: E402 - after the path is set
from pipeline.state import StateStore, keys  # noqa: E402
from pipeline.state.broker import PRIORITY_STEPS, UNACKED, UNACKED_INDEX, queue_key  # noqa: E402
from workers.embedded import EmbeddedRedis  # noqa: E402

GRACE = 20.0
LEASE = 300.0
BATCH = 10_000


def commands(state: StateStore) -> int:
    """Commands the server has processed (the INFO that asks is one of them)."""
    return int(state.broker.r.info("stats")["total_commands_processed"])


def empty(state: StateStore) -> None:
    """newsflow's keys, the queues and the held messages deleted (kombu's bindings kept: the
    Celery app declared them once and does not again)."""
    state.clear()
    lists = [queue_key(q, step) for q in QUEUES for step in PRIORITY_STEPS]
    state.broker.r.delete(*lists, UNACKED, UNACKED_INDEX)


def template(state: StateStore) -> dict[str, object]:
    """A real Celery message for a fetch, as the broker holds it."""
    from workers.celery_app import app

    app.send_task("fetch.page", kwargs={"url": "https://example.org/news/0.html"}, task_id="fetch.page:template")
    raw = state.broker.r.rpop(queue_key("fetch"))
    assert raw is not None, "the template message did not reach the fetch queue"
    message: dict[str, object] = json.loads(raw)
    return message


def fill(state: StateStore, size: int, now: float) -> None:
    """`size` fetch items, recorded and published, each with its message queued."""
    message = template(state)
    headers = dict(message["headers"])  # type: ignore[call-overload]
    properties = dict(message["properties"])  # type: ignore[call-overload]
    for start in range(0, size, BATCH):
        items = [
            fetch_work(f"https://site{n % 100:02d}.example/news/{n}.html")
            for n in range(start, min(size, start + BATCH))
        ]
        pipe = state.broker.r.pipeline(transaction=False)
        state.work.record(items, now, pipe)
        bodies = []
        for item in items:
            headers["id"] = item.id
            properties["correlation_id"] = item.id
            bodies.append(json.dumps({**message, "headers": headers, "properties": properties}))
        pipe.lpush(queue_key("fetch"), *bodies)
        pipe.execute()
        state.work.mark_sent([i.id for i in items], now)


def old_reads(state: StateStore, now: float) -> tuple[float, int]:
    """What a pass read before it counted: ledger items sent before the grace, and every queued message."""
    r = state.broker.r
    before = commands(state)
    began = time.perf_counter()
    ids = r.zrangebyscore(keys.WORK_SENT, "-inf", now - GRACE)
    for i in range(0, len(ids), BATCH):
        r.hmget(keys.WORK, ids[i : i + BATCH])
    r.hgetall(keys.WORK_RUN)
    for q in QUEUES:
        state.broker.queued_ids(q)
    state.broker.held()
    return time.perf_counter() - began, commands(state) - before - 1


def measure(state: StateStore, size: int, passes: int) -> dict[str, float]:
    from workers.handoff import reconcile

    empty(state)
    now = time.time()
    began = time.perf_counter()
    fill(state, size, now)
    filled = time.perf_counter() - began
    later = now + GRACE + 60
    times, counts = [], []
    for _ in range(passes):
        before = commands(state)
        began = time.perf_counter()
        done = reconcile(state, grace=GRACE, lease=LEASE, now=later)
        times.append(time.perf_counter() - began)
        counts.append(commands(state) - before - 1)
        assert not done and not done.inspected, f"a quiet pass acted: {done}"
    old_time, old_commands = old_reads(state, later)
    state.broker.r.rpop(queue_key("fetch"))  # a message lost between the queue and a worker
    before = commands(state)
    began = time.perf_counter()
    found = reconcile(state, grace=GRACE, lease=LEASE, now=later)
    lost_time = time.perf_counter() - began
    lost_commands = commands(state) - before - 1
    assert found.inspected == ["fetch"] and found.republished == 1, f"the lost message was not found: {found}"
    return {
        "queued": size,
        "fill_s": round(filled, 1),
        "quiet_pass_ms": round(statistics.median(times) * 1000, 2),
        "quiet_pass_commands": statistics.median(counts),
        "old_reads_ms": round(old_time * 1000, 1),
        "old_reads_commands": old_commands,
        "loss_pass_ms": round(lost_time * 1000, 1),
        "loss_pass_commands": lost_commands,
        "redis_mb": round(state.used_memory() / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 1_000_000])
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    if min(args.sizes) < 1 or args.passes < 1:
        parser.error("--sizes and --passes take whole numbers of 1 or more")
    stop_cleanly_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="newsflow-reconcile-") as tmp:
        server = EmbeddedRedis(Path(tmp))
        # The Celery app configures itself from the environment on first use: publish here.
        os.environ.update(REDIS_URL=server.url, NEWSFLOW_DATA_DIR=tmp)
        state = StateStore.from_url(server.url, queues=QUEUES)
        try:
            rows = [measure(state, size, args.passes) for size in args.sizes]
        finally:
            state.close()
            server.close()
    print(json.dumps(rows, indent=2))
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        ratio = large["quiet_pass_ms"] / max(small["quiet_pass_ms"], 1e-9)
        print(
            f"quiet pass at {large['queued']:,} queued vs {small['queued']:,}: {ratio:.2f}x the time, "
            f"{large['quiet_pass_commands']:g} vs {small['quiet_pass_commands']:g} commands"
        )


if __name__ == "__main__":
    main()
