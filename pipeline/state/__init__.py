"""The state layer: every Redis command newsflow sends is written under this package.

    keys        every key name, with the hash tags that keep a script's keys in one slot
    client      connecting, and telling an outage (wait it out) from a bug
    store       StateStore: the stores below, and `commit`, the transaction a stage ends with
    work        the work ledger (what was queued and not finished; the reconciler's source), its one writer
    snapshot    what the reconciler reads of the ledger and the broker (`pipeline.delivery` decides)
    feeds       feed registry, schedule, per-feed state, entry claims
    seen        seen URLs, windowed and compact
    docs        documents pending for the index, page records (per site) for re-cleaning
    dead        dead letters
    hosts       per-host politeness (rate, concurrency, back-off, robots.txt cache)
    boilerplate per-site block statistics
    packing     page ids and block fingerprints as short bytes
    shards      a big map of 64-bit keys spread over small hashes (seen URLs, the near-dup index)
    neardup     the near-duplicate index: short MinHash signatures, LSH bands in small hashes
    broker      kombu's queues and unacknowledged messages, read (and restored): the one module
                that knows kombu's Redis layout
    counters    counters and operator events
    imports     WARC imports: offsets per file, and the claim that hands their pages on

Nothing outside this package imports `redis`.
"""

from pipeline.state.client import OUTAGE_ERRORS, connect, describe, is_outage, wait_until_available
from pipeline.state.dead import DeadLetter
from pipeline.state.seen import url_digest
from pipeline.state.store import StateStore
from pipeline.state.work import WorkItem

__all__ = [
    "OUTAGE_ERRORS",
    "DeadLetter",
    "StateStore",
    "WorkItem",
    "connect",
    "describe",
    "is_outage",
    "url_digest",
    "wait_until_available",
]
