"""Every Redis key newsflow writes, in one place.

All keys start with `nf:`. Keys that one Lua script or one transaction touches together
share a hash tag (the part in braces), so a Redis Cluster keeps them in one slot:

- `{core}`: the hand-off keys. Seen URLs, feed GUID maps, the work ledger, documents
  pending for the index and dead letters change together when a stage hands work to the
  next, so they live in one slot.
- On a Redis Cluster the seen-URL map and the work ledger are split into `PARTITIONS`
  partitions instead (`Partition`), each under a hash tag of its own, spread evenly over the
  slots: a URL's partition holds both its seen entry and the ledger entry of the work it
  makes (`WorkItem.make(place=url)`), so a claim is still one script. On one Redis there is
  one partition, whose keys are the `{core}` keys above: an existing data directory's.
- `{<site>}`: one site's boilerplate statistics, its page records, and its drift windows.
- `{<host>}`: one host's politeness state.

Everything else is touched one key at a time and spreads freely. The broker's own keys
(queues, `unacked`, bindings) belong to kombu; `broker.py` alone knows their names.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

PREFIX = "nf:"
CORE = PREFIX + "{core}:"

# -- counters and registry ---------------------------------------------------------------------
STATS = PREFIX + "stats"  # hash: counter name -> value
EVENTS = PREFIX + "events"  # list: recent operator events (worker restarts, Redis outages), newest first
FEEDS = PREFIX + "feeds"  # hash: feed id -> feed config JSON
FEEDS_NEXT = PREFIX + "feeds:next"  # zset: feed id -> next poll (unix time)
SCHEDULER_LEASE = PREFIX + "scheduler:lease"  # string: the token of the one scheduler (beat) that schedules
INDEX_GATHER = PREFIX + "index:gather"  # string: the token of the one index batch waiting for more documents


def feed_state(feed_id: str) -> str:
    """Hash of one feed's health and validators."""
    return f"{PREFIX}feed:{feed_id}"


# -- the hand-off slot ----------------------------------------------------------------------------
SEEN_EPOCHS = CORE + "seen:epochs"  # hash: the seen-URL map's epochs (see shards.py)


def seen_shard(epoch: int | str, shard: int | str) -> str:
    """One small hash of seen URL digests (field -> 1)."""
    return f"{CORE}seen:{epoch}:{shard}"


WORK = CORE + "work"  # hash: work id -> work item JSON (the ledger)
WORK_SENT = CORE + "work:sent"  # zset: work id -> when it was last recorded or handed to the broker
WORK_UNPUB = CORE + "work:unpublished"  # zset: work id -> when it was recorded, until a publish of it succeeds
WORK_LIVE = (
    CORE + "work:live"
)  # zset, all scores 0: ids published and not ended, by stage (ZLEXCOUNT "[fetch." "(fetch/")
WORK_LAYOUT = CORE + "work:layout"  # string: set once the ledger's items of an earlier layout were adopted
WORK_DUE = CORE + "work:due"  # zset: work id -> when deferred work is due again
WORK_RUN = CORE + "work:run"  # hash: work id -> JSON of the worker running it
WORK_SCAN = CORE + "work:scan"  # a token: one reconciler reads a stage's queue at a time
PENDING = CORE + "index:pending"  # hash: doc id -> document JSON waiting for the search backend
REJECTED = CORE + "index:rejected"  # hash: doc id -> document JSON the backend refused
DEAD = CORE + "dead"  # list of dead letters, oldest first
RECENT = CORE + "index:recent"  # zset: doc id -> when the search backend took it (a short window)
RECENT_DOCS = CORE + "index:recent:docs"  # hash: doc id -> the document it took
SUSPECT = CORE + "index:suspect"  # when the search backend last stopped answering, until rechecked


IMPORTS = CORE + "imports"  # zset: import id -> when it last moved (`newsflow import`, see imports.py)


def import_state(import_id: str) -> str:
    """Hash of one WARC import: its file, the offset read up to, counts by outcome."""
    return f"{CORE}import:{import_id}"


def feed_guids(feed_id: str, generation: str) -> str:
    """A feed's GUID-digest -> URL-digest map: the "cur" and "prev" generations."""
    return f"{CORE}feed:{feed_id}:gids:{generation}"


def feed_guids_apart(feed_id: str, generation: str) -> str:
    """A feed's GUID map on a partitioned layout (a Redis Cluster): under the feed's own tag."""
    return f"{PREFIX}gids:{{{feed_id}}}:{generation}"


# -- per site, per host ------------------------------------------------------------------------
def boilerplate(site: str, what: str) -> str:
    """One of a site's boilerplate keys: `ids` and `fps` (its recent pages, two aligned lists),
    `cur<i>` and `prev<i>` (the generations of count shard i, hashes)."""
    return f"{PREFIX}bp:{{{site}}}:{what}"


def page_records(site: str, what: str) -> str:
    """One of a site's page-record keys: `docs` (hash: page id -> the process message of a
    recent page, kept so it can be cleaned again without fetching), `ids` (list, newest first)."""
    return f"{PREFIX}page:{{{site}}}:{what}"


def drift(site: str, what: str) -> str:
    """One of a site's drift windows: baseline, recent (lists of page samples)."""
    return f"{PREFIX}drift:{{{site}}}:{what}"


DRIFT_ALARMS = PREFIX + "drift:alarms"  # hash: site -> JSON of its standing drift alarm
DRIFT_SITES = PREFIX + "drift:sites"  # set: the sites with drift windows (what `drift list` reads)


def host(host_key: str, what: str) -> str:
    """One of a host's politeness keys: tat, blocked, inflight, sent, robots."""
    return f"{PREFIX}host:{{{host_key}}}:{what}"


# -- near-duplicates (see neardup.py) ----------------------------------------------------------
def neardup_next(version: str) -> str:
    """The last slot number given to a document."""
    return f"{PREFIX}ndn:{version}"


def neardup_records(version: str, block: int) -> str:
    """A string of fixed-size document records, one block of slots."""
    return f"{PREFIX}ndr:{version}:{block}"


def neardup_epochs(version: str) -> str:
    """Hash: the index's epochs (current one, and each one's shards, start, entries, last write)."""
    return f"{PREFIX}nde:{version}"


def neardup_shard(version: str, epoch: int | str, shard: int | str) -> str:
    """One small hash of the index: key bytes -> slots."""
    return f"{PREFIX}ndx:{version}:{epoch}:{shard}"


# -- partitions of the seen map and the work ledger ------------------------------------------------
PARTITIONS = 128  # on a Redis Cluster: about 43 per node of three, each a slot of its own


@dataclass(frozen=True)
class Partition:
    """The keys of one partition of the seen map and the work ledger (see the module docstring)."""

    number: int
    tag: str  # the hash tag, braces included

    def key(self, name: str) -> str:
        return f"{PREFIX}{self.tag}:{name}"

    @property
    def seen_epochs(self) -> str:
        return self.key("seen:epochs")

    def seen_shard(self, epoch: int | str, shard: int | str) -> str:
        return self.key(f"seen:{epoch}:{shard}")

    @property
    def ledger(self) -> tuple[str, str, str, str]:
        """The keys a script that records work is given (`work.RECORD_LUA`): work, sent,
        unpublished, due."""
        return (self.work, self.work_sent, self.work_unpub, self.work_due)

    @property
    def work(self) -> str:
        return self.key("work")

    @property
    def work_sent(self) -> str:
        return self.key("work:sent")

    @property
    def work_unpub(self) -> str:
        return self.key("work:unpublished")

    @property
    def work_live(self) -> str:
        return self.key("work:live")

    @property
    def work_due(self) -> str:
        return self.key("work:due")

    @property
    def work_run(self) -> str:
        return self.key("work:run")


@cache
def partitions(count: int) -> tuple[Partition, ...]:
    """The partitions of a layout: one (the `{core}` keys) or `count`, whose hash tags are chosen
    so that partition p's slot lies in the p-th of `count` equal ranges of the 16,384 slots:
    however a cluster deals out its slots in ranges, each node gets its share of partitions."""
    if count == 1:
        return (Partition(0, "{core}"),)
    out = []
    for p in range(count):
        low, high = p * REDIS_CLUSTER_HASH_SLOTS // count, (p + 1) * REDIS_CLUSTER_HASH_SLOTS // count
        k = 0
        while not low <= key_slot(f"core:{p}:{k}".encode()) < high:
            k += 1
        out.append(Partition(p, f"{{core:{p}:{k}}}"))
    return tuple(out)


def partition_of_digest(digest: str, count: int) -> int:
    """The partition of a URL digest (hex): its first four digits, modulo the partitions."""
    return int(digest[:4], 16) % count


def partition_of_work(work_id: str, count: int) -> int:
    """The partition of a work item: the first four hex digits of its id's digest (placed
    there by `WorkItem.make`), or a hash of an id of another shape."""
    if count == 1:
        return 0
    tail = work_id.rsplit(":", 1)[-1][:4]
    try:
        return int(tail, 16) % count if len(tail) == 4 else zlib.crc32(work_id.encode()) % count
    except ValueError:
        return zlib.crc32(work_id.encode()) % count
