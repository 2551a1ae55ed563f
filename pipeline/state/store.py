"""`StateStore`: the one object through which newsflow reads and writes Redis.

It holds the small stores (feeds, seen URLs, the work ledger, pending documents, page
records, dead letters, hosts, counters, the broker's queues) and `commit`, the one
transaction a stage ends with: its work item leaves the ledger, its output enters it, and
its marks (a pending document, a dead letter, a deferral) are written, all or nothing.

The broker's queues may live on a Redis of their own (`broker_url`): `broker` is then a second
client, and only `BrokerView` uses it.

On a Redis Cluster (`connect(url, cluster=True)`), the seen map and the work ledger are split
into `keys.PARTITIONS` partitions, and `commit` is one transaction per slot it touches: the
slot of the item that ends goes last, so a stage cut off half-way leaves its item in the
ledger, and runs again (every stage is idempotent).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pipeline.state import keys
from pipeline.state.boilerplate import DEFAULT_RECENT_PAGES, BoilerplateStats
from pipeline.state.broker import BrokerView
from pipeline.state.client import Client, batch, close, connect, is_cluster, ping, text, wait_until_available
from pipeline.state.counters import Counters
from pipeline.state.dead import DEFAULT_MAX as DEFAULT_DEAD_LETTERS_MAX
from pipeline.state.dead import DeadLetter, DeadLetters
from pipeline.state.docs import PageRecords, PendingDocs
from pipeline.state.drift import DriftWindows
from pipeline.state.feeds import FeedStore
from pipeline.state.hosts import HostStore
from pipeline.state.imports import ImportStore
from pipeline.state.lease import Lease
from pipeline.state.neardup import NearDupStore
from pipeline.state.seen import DEFAULT_RETENTION, SeenUrls
from pipeline.state.snapshot import Audit, Snapshot
from pipeline.state.work import WorkItem, WorkLedger


class StateStore:
    """Shared state in Redis; everything a worker learns that another worker needs lives here."""

    def __init__(
        self,
        client: Client,
        *,
        broker: Client | None = None,
        seen_retention: float = DEFAULT_RETENTION,
        dead_letters_max: int = DEFAULT_DEAD_LETTERS_MAX,
        queues: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        recent_pages: int = DEFAULT_RECENT_PAGES,
    ) -> None:
        self._r = client
        # The broker's Redis: the state's own unless the queues live apart.
        self._broker = client if broker is None else broker
        self.clock = clock
        self.counters = Counters(client)
        parts = keys.partitions(keys.PARTITIONS if is_cluster(client) else 1)
        self.seen = SeenUrls(client, seen_retention, clock, parts)
        self.feeds = FeedStore(client, self.seen)
        self.work = WorkLedger(client, parts)
        self.pending = PendingDocs(client)
        # A site keeps the records of the pages its boilerplate statistics may clean again.
        self.recent_pages = recent_pages
        self.pages = PageRecords(client, keep=recent_pages)
        self.dead = DeadLetters(client, dead_letters_max, self.work)
        self.hosts = HostStore(client)
        self.broker = BrokerView(self._broker, queues)
        self.drift = DriftWindows(client)
        self.imports = ImportStore(client, self.seen, self.work)

    @classmethod
    def from_url(
        cls, url: str, broker_url: str | None = None, *, cluster: bool = False, **kwargs: object
    ) -> StateStore:
        """A store on the Redis at `url` (a node of a Redis Cluster with `cluster`), reading the
        broker's queues at `broker_url` (default: the same)."""
        client = connect(url, cluster=cluster)
        broker = client if broker_url in (None, url) else connect(broker_url)
        return cls(client, broker=broker, **kwargs)  # type: ignore[arg-type]

    @property
    def _clients(self) -> list[Client]:
        """The state's Redis, then the broker's when it is another."""
        return [self._r] if self._broker is self._r else [self._r, self._broker]

    # -- stores that take their own parameters ---------------------------------------------------
    def boilerplate(self, min_pages: int = 2, **kwargs: float | int) -> BoilerplateStats:
        kwargs.setdefault("recent_pages", self.recent_pages)
        return BoilerplateStats(self._r, min_pages=min_pages, **kwargs)  # type: ignore[arg-type]

    def neardup(self, version: str) -> NearDupStore:
        return NearDupStore(self._r, version)

    def scheduler_lease(self, ttl: float) -> Lease:
        """The lease that decides which scheduler (beat) of this Redis schedules."""
        return Lease(self._r, keys.SCHEDULER_LEASE, ttl)

    def index_gather_lease(self, ttl: float) -> Lease:
        """The lease of the one index batch that waits for more documents (see `workers.tasks.index`)."""
        return Lease(self._r, keys.INDEX_GATHER, ttl)

    # -- the hand-off ------------------------------------------------------------------------------
    def commit(
        self,
        *,
        done: str | None = None,
        add: Sequence[WorkItem] = (),
        index: Mapping[str, str] | None = None,
        dead: DeadLetter | None = None,
        defer: tuple[WorkItem, float] | None = None,
    ) -> None:
        """End a stage in one transaction: `done` leaves the ledger, `add` enters it, documents in
        `index` (id -> JSON) wait for the search backend, `dead` is kept, `defer` waits until its time.
        """
        now = self.clock()
        # One transaction per slot (on one Redis, one in all), in the order of the calls here.
        slots: dict[str, Any] = {}

        def pipe(tag: str) -> Any:
            if tag not in slots:
                slots[tag] = self._r.pipeline(transaction=True)
            return slots[tag]

        home = keys.partitions(1)[0].tag  # pending documents and dead letters: `{core}`
        if done is not None:
            self.work.forget(done, pipe(self.work.part(done).tag))
        if index:
            self.pending.add(index, pipe(home))
        if defer is not None:
            self.work.defer(defer[0], defer[1], pipe(self.work.part(defer[0].id).tag))
        for part, ids in self.work.by_part(i.id for i in add).items():
            chosen = set(ids)
            self.work.record([i for i in add if i.id in chosen], now, pipe(part.tag))
        dead_at = None
        if dead is not None:
            dead_at = len(pipe(home).command_stack)
            self.dead.add(dead, pipe(home))
        last = self.work.part(done).tag if done is not None else None
        replies = {tag: p.execute() for tag, p in slots.items() if tag != last}
        if last is not None:
            replies[last] = slots[last].execute()
        results = replies.get(home, [])
        if dead_at is not None:
            self.counters.incr("failed")
            over = int(results[dead_at]) - self.dead.limit
            if over > 0:
                self.counters.incr("dead_letters_trimmed", over)

    # -- the reconciler's reads (`pipeline.delivery` decides on them) --------------------------------
    def delivery_snapshot(self, now: float, grace: float, lease: float, limit: int = 1000) -> Snapshot:
        """What a reconciliation pass reads, in a few commands whatever the backlog: per stage the
        ledger's published items and the queue's messages, the held messages and who runs what
        (in one transaction, so the counts agree with each other), then the due and unpublished
        items (at most `limit` each).

        With the broker on a Redis of its own, the ledger is read in one transaction and the
        broker in the next. What moves in between can make a stage look short of messages (an
        item that ended after the first read, its message acknowledged before the second): the
        stage is then counted again and audited, and its items are found carried or ended. Or
        it can make a stage look fuller for one pass (a message published in between), which
        delays finding a loss in it to a later pass; a lost message stays lost, so one is found.
        """
        queues = self.broker.queues
        pipe = batch(self._r)  # on a cluster, one pipeline over the partitions: see `commit`
        for stage in queues:
            self.work.live_count(stage, pipe)
        self.work.read_runs(pipe)
        apart = self._broker is not self._r
        broker_pipe = self._broker.pipeline(transaction=True) if apart else pipe
        self.broker.count_waiting(broker_pipe)
        self.broker.read_held(broker_pipe)
        replies = pipe.execute()
        if apart:
            replies += broker_pipe.execute()
        n = len(queues) * len(self.work.parts)
        live = self.work.live_counts_from(queues, replies[:n])
        runs = replies[n : n + len(self.work.parts)]
        waiting = self.broker.waiting_counts(replies[n + len(self.work.parts) : -2])
        held = self.broker.held_from(replies[-2:])
        ids = [m.task_id for m in held if m.task_id]
        return Snapshot(
            now=now,
            grace=grace,
            lease=lease,
            due=self.work.due(now, limit),
            unpublished=self.work.unpublished(now, limit),
            running=self.work.runs_from(runs),
            held=held,
            sent=self.work.sent_times(ids),
            carrying=self.work.published(ids),
            live=live,
            waiting=waiting,
        )

    def delivery_audit(self, stage: str, now: float, grace: float) -> Audit:
        """A stage's published items and every message that carries one: its queue is read
        first, then the held messages, so a message taken meanwhile is seen in the second."""
        live = self.work.sent_times(self.work.live_ids(stage))
        queued = self.broker.queued_ids(stage)
        held = {m.task_id for m in self.broker.held()}
        return Audit(stage=stage, now=now, grace=grace, live=live, queued=queued, held=held)

    # -- shortcuts used everywhere -------------------------------------------------------------------
    def incr(self, name: str, amount: int = 1) -> None:
        self.counters.incr(name, amount)

    def stats(self) -> dict[str, int]:
        return self.counters.all()

    def used_memory(self) -> int:
        """Bytes the state's Redis holds (`used_memory`, every node's on a cluster): newsflow's
        state, the queues when the broker shares it, and anything else."""
        return sum(self.node_memory().values())

    def node_memory(self) -> dict[str, int]:
        """`used_memory` of each primary of a cluster, by its address (of the one Redis: under "")."""
        if not is_cluster(self._r):
            return {"": int(self._r.info("memory")["used_memory"])}
        replies = self._r.info("memory", target_nodes=self._r.PRIMARIES)  # type: ignore[attr-defined]
        return {str(node): int(info["used_memory"]) for node, info in replies.items()}

    def feed_state(self, feed_id: str) -> dict[str, str]:
        return self.feeds.state(feed_id)

    def update_feed_state(self, feed_id: str, **fields: object) -> None:
        self.feeds.update(feed_id, **fields)

    def bump_feed_counter(self, feed_id: str, name: str, amount: int = 1) -> int:
        return self.feeds.bump(feed_id, name, amount)

    def wait_available(self, patience: float, **kwargs: object) -> bool:
        """Block until Redis (the broker's too, when apart) answers (True) or `patience` seconds
        pass (False); see `client`."""
        deadline = time.monotonic() + patience
        for client in self._clients:
            left = max(0.0, deadline - time.monotonic())
            if not wait_until_available(client, left, **kwargs):  # type: ignore[arg-type]
                return False
        return True

    def memory(self, sample: int = 200) -> tuple[int, dict[str, int]]:
        """Redis's used memory, and an estimate of it by key family (`nf:ndx`, `nf:core:seen`...),
        from MEMORY USAGE of up to `sample` keys of each family (for benchmarks and operators:
        it scans the keyspace, every node's on a cluster)."""
        used = self.used_memory()
        seen: dict[str, int] = {}
        measured: dict[str, int] = {}
        for raw in self._r.scan_iter(count=1000):
            name = text(raw)
            parts = name.split(":")
            if name.startswith(keys.PREFIX + "{core") and "}:" in name:  # a partition's too
                family = "nf:core:" + name.split("}:", 1)[1].split(":")[0]
            else:
                family = ":".join(parts[:2])
            seen[family] = seen.get(family, 0) + 1
            if seen[family] <= sample:
                measured[family] = measured.get(family, 0) + int(self._r.memory_usage(raw) or 0)
        return used, {f: measured.get(f, 0) * seen[f] // min(seen[f], sample) for f in seen}

    def clear(self) -> int:
        """Delete every newsflow key (not the broker's): a clean slate for tests and resets (it
        scans the keyspace, every node's on a cluster)."""
        doomed = list(self._r.scan_iter(match=keys.PREFIX + "*", count=1000))
        for i in range(0, len(doomed), 500):
            self._r.delete(*doomed[i : i + 500])
        return len(doomed)

    def ping(self) -> bool:
        """True when the state's Redis answers, and the broker's too when apart."""
        return all(ping(client) for client in self._clients)

    def close(self) -> None:
        for client in self._clients:
            close(client)
