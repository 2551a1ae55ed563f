"""Every Redis key newsflow writes, in one place.

All keys start with `nf:`. Keys that one Lua script or one transaction touches together
share a hash tag (the part in braces), so a Redis Cluster keeps them in one slot:

- `{core}`: the hand-off keys. Seen URLs, feed GUID maps, the work ledger, documents
  pending for the index and dead letters change together when a stage hands work to the
  next, so they live in one slot.
- `{<site>}`: one site's boilerplate statistics, its page records, and its drift windows.
- `{<host>}`: one host's politeness state.

Everything else is touched one key at a time and spreads freely. The broker's own keys
(queues, `unacked`, bindings) belong to kombu; `broker.py` alone knows their names.
"""

from __future__ import annotations

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
