"""WARC imports in Redis: how far each file was read, what came of its records, and the claim
that hands a batch of pages to the process stage.

A batch is one script: each page's URL is claimed in the shared seen-set (`seen.py`), the
process work of the new ones enters the ledger (`work.py`), and the file's offset moves past
the batch with the counts of what was skipped, all or nothing. A killed import therefore
reads again only the records after the last batch it committed, and a page is handed on
once, however often the file is imported.

On a Redis Cluster (a partitioned seen map and ledger, `keys.Partition`) a batch is one
script per partition its pages fall in, then the file's offset and counts move: a batch cut
off in between is read again, and its pages claimed before are skipped as seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client, text
from pipeline.state.seen import CLAIM_URL_LUA, SeenUrls
from pipeline.state.work import RECORD_LUA, WorkItem, WorkLedger

# Lua shared by the batch scripts: `claim_pages(table, ledger, ttl, now, epoch, n, first, from)`
# claims the pages whose (seen field, work id, work JSON) triples start at ARGV[from], their n
# seen shards each from KEYS[first] on, and records the work of the new ones. Returns a 1 or 0
# per page, and how many were new.
CLAIM_PAGES_LUA = (
    CLAIM_URL_LUA
    + RECORD_LUA
    + """
local function claim_pages(table, ledger, ttl, now, epoch, n, first, from)
  local out, added, i = {}, 0, 0
  for a = from, #ARGV, 3 do
    local new = claim_url(first + i * n, n, ARGV[a], ttl)
    i = i + 1
    if new == 1 then
      added = added + 1
      record_work(ledger, ARGV[a + 1], ARGV[a + 2], now)
    end
    out[#out + 1] = new
  end
  count_claimed(table, epoch, added, now)
  return out, added
end
"""
)

# KEYS = the import's hash, the imports zset, the seen epoch table, the ledger's keys
# (`work.LEDGER_KEYS`, four), then n seen shards per page. ARGV = ttl, now, current seen epoch, n, import id,
# offset, records read, the number of skip reasons, (reason, count) pairs, then per page its
# seen field, work id and work JSON. Returns 1 per new page, 0 per page seen before.
_COMMIT = (
    CLAIM_PAGES_LUA
    + """
local state, imports, table, ledger = KEYS[1], KEYS[2], KEYS[3], {KEYS[4], KEYS[5], KEYS[6], KEYS[7]}
local ttl, now, epoch, n = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local skips = tonumber(ARGV[8])
local out, added = claim_pages(table, ledger, ttl, now, epoch, n, 8, 9 + 2 * skips)
for s = 9, 8 + 2 * skips, 2 do
  redis.call('HINCRBY', state, 'skip:' .. ARGV[s], tonumber(ARGV[s + 1]))
end
if added < #out then redis.call('HINCRBY', state, 'skip:seen', #out - added) end
redis.call('HINCRBY', state, 'queued', added)
redis.call('HINCRBY', state, 'records', tonumber(ARGV[7]))
redis.call('HSET', state, 'offset', ARGV[6], 'updated', now)
redis.call('ZADD', imports, now, ARGV[5])
return out
"""
)

# The partitioned batch (a Redis Cluster): one partition's pages. KEYS = the seen epoch table,
# the ledger's keys (four), then n seen shards per page. ARGV = ttl, now, current seen epoch, n,
# then per page its seen field, work id and work JSON. Returns 1 per new page, 0 per page seen before.
_CLAIM_PLACED = (
    CLAIM_PAGES_LUA
    + """
local ledger = {KEYS[2], KEYS[3], KEYS[4], KEYS[5]}
local out = claim_pages(KEYS[1], ledger, tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4]), 6, 5)
return out
"""
)


class ImportStore:
    def __init__(self, client: Client, seen: SeenUrls, work: WorkLedger | None = None) -> None:
        self.r = client
        self.seen = seen
        self.work = work or WorkLedger(client, seen.parts)
        self._commit = client.register_script(_COMMIT)
        self._claim_placed = client.register_script(_CLAIM_PLACED)

    def begin(self, import_id: str, **fields: Any) -> dict[str, str]:
        """Open (or reopen) an import: its fields are set unless already there; returns its state
        as it was (empty for a new import)."""
        key = keys.import_state(import_id)
        before = self.get(import_id) or {}
        pipe = self.r.pipeline(transaction=True)
        for name, value in fields.items():
            pipe.hsetnx(key, name, str(value))
        pipe.hset(key, "state", "running")
        pipe.hsetnx(key, "offset", "0")
        pipe.zadd(keys.IMPORTS, {import_id: self.seen.now()})
        pipe.execute()
        return before

    def get(self, import_id: str) -> dict[str, str] | None:
        raw = self.r.hgetall(keys.import_state(import_id))
        return {text(k): text(v) for k, v in raw.items()} or None

    def commit(
        self,
        import_id: str,
        *,
        offset: int,
        records: int,
        skipped: Mapping[str, int],
        pages: Sequence[tuple[str, WorkItem]],
    ) -> list[bool]:
        """Claim each (URL digest, process work) page and move the offset, in one step; True
        for each page that was new (its work is now in the ledger)."""
        now = self.seen.now()
        if len(self.seen.parts) > 1:
            new = self._claim_apart(pages, now)
            self._moved_on(import_id, offset, records, skipped, new, now)
            return new
        plan = self.seen.plan([digest for digest, _ in pages])
        args: list[str | int | bytes] = [self.seen.ttl, repr(now), plan.epoch, plan.per_digest]
        args += [import_id, offset, records, len(skipped)]
        for reason, count in skipped.items():
            args += [reason, count]
        for field, (_, item) in zip(plan.fields, pages, strict=True):
            args += [field, item.id, item.to_json()]
        claim_keys = [
            keys.import_state(import_id),
            keys.IMPORTS,
            plan.part.seen_epochs,
            *plan.part.ledger,
            *plan.shards,
        ]
        return [bool(v) for v in self._commit(keys=claim_keys, args=args)]

    def _claim_apart(self, pages: Sequence[tuple[str, WorkItem]], now: float) -> list[bool]:
        """The pages' claims on a partitioned layout, one script per partition (see the module docstring)."""
        new = [False] * len(pages)
        digests = [digest for digest, _ in pages]
        for part, positions in self.seen.by_part(digests).items():
            plan = self.seen.plan([digests[i] for i in positions], part)
            args: list[str | int | bytes] = [self.seen.ttl, repr(now), plan.epoch, plan.per_digest]
            for i, field in zip(positions, plan.fields, strict=True):
                self.seen.check_placed(part, pages[i][1].id)
                args += [field, pages[i][1].id, pages[i][1].to_json()]
            claimed = self._claim_placed(keys=[plan.part.seen_epochs, *plan.part.ledger, *plan.shards], args=args)
            for i, x in zip(positions, claimed, strict=True):
                new[i] = bool(x)
        return new

    def _moved_on(
        self, import_id: str, offset: int, records: int, skipped: Mapping[str, int], new: list[bool], now: float
    ) -> None:
        """After the claims of a batch (partitioned layout): the file's offset and counts move."""
        state = keys.import_state(import_id)
        pipe = self.r.pipeline(transaction=True)  # the import's keys share the `{core}` slot
        for reason, count in skipped.items():
            pipe.hincrby(state, f"skip:{reason}", count)
        if sum(new) < len(new):
            pipe.hincrby(state, "skip:seen", len(new) - sum(new))
        pipe.hincrby(state, "queued", sum(new))
        pipe.hincrby(state, "records", records)
        pipe.hset(state, mapping={"offset": offset, "updated": repr(now)})
        pipe.zadd(keys.IMPORTS, {import_id: now})
        pipe.execute()

    def finish(self, import_id: str) -> None:
        """The whole file was read (its pages may still be in the ledger)."""
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(keys.import_state(import_id), mapping={"state": "done", "updated": repr(self.seen.now())})
        pipe.zadd(keys.IMPORTS, {import_id: self.seen.now()})
        pipe.execute()

    def fail(self, import_id: str, error: str) -> None:
        """The file broke at some record: what came before was handed on; `status` says where
        it stopped and why, rather than "running", until the file is imported again."""
        pipe = self.r.pipeline(transaction=True)
        key = keys.import_state(import_id)
        pipe.hset(key, mapping={"state": "stopped", "error": error[:300], "updated": repr(self.seen.now())})
        pipe.zadd(keys.IMPORTS, {import_id: self.seen.now()})
        pipe.execute()

    def all(self) -> list[dict[str, str]]:
        """Every import known, the most recently moved first, each with its `id`."""
        ids = [text(i) for i in self.r.zrevrange(keys.IMPORTS, 0, -1) if isinstance(i, bytes | str)]
        out = []
        for import_id in ids:
            state = self.get(import_id)
            if state is not None:
                out.append({"id": import_id, **state})
        return out

    def open_work(self, ids: Iterable[str]) -> set[str]:
        """Which of these work ids are still in the ledger (queued, running or waiting)."""
        ids = list(ids)
        if not ids:
            return set()
        return set(self.work.items(ids))

    def open_work_of(self, import_id: str) -> list[str]:
        """The ids of the ledger's items that this import handed on (one scan of the ledger)."""
        mark = f'"import":"{import_id}"'.encode()
        return [text(k) for part in self.work.parts for k, v in self.r.hscan_iter(part.work, count=1000) if mark in v]


def skip_counts(state: Mapping[str, str]) -> dict[str, int]:
    """An import's records skipped, by reason."""
    return {k.split(":", 1)[1]: int(v) for k, v in state.items() if k.startswith("skip:") and int(v)}


def describe(state: Mapping[str, str]) -> str:
    """One line on an import, for `status`."""
    size = int(state.get("size") or 0)
    offset = int(state.get("offset") or 0)
    share = f" ({offset / size:.0%})" if size else ""
    skipped = skip_counts(state)
    stopped = f"; stopped: {state['error']}" if state.get("state") == "stopped" and state.get("error") else ""
    return (
        f"{state.get('file', '?')}: {state.get('state', '?')}, read {offset:,} of {size:,} bytes{share},"
        f" {int(state.get('records') or 0):,} records, {int(state.get('queued') or 0):,} pages queued"
        + (", skipped: " + ", ".join(f"{k} {v:,}" for k, v in sorted(skipped.items())) if skipped else "")
        + stopped
    )
