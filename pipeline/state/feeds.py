"""Feeds in Redis: the registry, the next-poll schedule, each feed's state, and entry claims.

Claiming a feed's entries and recording the fetch work of the new ones is one script: a URL
is never marked seen without its work being in the ledger (see `work.py`).

On a Redis Cluster the seen map and the ledger are partitioned (`keys.Partition`) and a
feed's GUID maps live under a hash tag of the feed's own: a poll reads what the GUID maps
know of its entries, claims each partition's URLs in one script per partition (its verdicts
from what was read), then writes the GUID maps. Each URL's claim and its work are still one
step; a poll cut off before the last step leaves the GUID maps behind, so the next poll of
the feed counts those entries' GUIDs as changed, once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipeline.state import keys
from pipeline.state.client import Client, batch, text
from pipeline.state.seen import CLAIM_URL_LUA, SeenUrls, guid_digest
from pipeline.state.work import RECORD_LUA, WorkItem

# Take the due feeds and push their next time forward by the lease in one step, so two
# schedulers (or a scheduler restarted mid-tick) never queue the same poll twice.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), id) end
return due
"""

# For each entry (url field, guid digest, work id, work JSON): claim the URL in the shared
# seen-set (`seen.py`), remember the feed's guid -> url digest, and for a new entry record its
# fetch work in the ledger.
# KEYS = the feed's current and previous GUID maps, the seen epoch table, the ledger's keys
# (`work.LEDGER_KEYS`, four), then n seen shards per entry. ARGV = ttl, now, current seen epoch, n,
# GUID map size, then the quadruples.
# A GUID map is bounded by count, not time: when the current one holds `size` GUIDs it becomes
# the previous one. Each poll writes every GUID the feed lists into the current map, so a GUID
# is forgotten only once the feed stopped listing it. A map idle for a ttl is forgotten (its
# "@w" field says when it was last written). Verdict per entry:
#   new    neither the URL nor the GUID was known: fetch it
#   moved  the GUID is known under another URL: the site changed the URL, not the article
#   seen   the URL was known (GUID new or not): the site changed the GUID, or nothing changed
#   guid_changed  like seen, but the GUID was new: counted to notice feeds with unstable GUIDs
# Lua shared by the claim scripts: a feed's GUID maps (`forget_idle`, `turn_over`) and an
# entry's verdict (`verdict_of`: whether it has a GUID, the URL field its GUID was known under
# or false, its own URL field, whether the URL was new).
GUID_MAPS_LUA = """
local function forget_idle(cur_map, prev_map, now, ttl)
  for _, map in ipairs({cur_map, prev_map}) do
    local w = redis.call('HGET', map, '@w')
    if w and tonumber(w) < now - ttl then redis.call('DEL', map) end
  end
end
local function turn_over(cur_map, prev_map, now, size, ttl)
  if redis.call('EXISTS', cur_map) == 1 then
    redis.call('HSET', cur_map, '@w', now)
    if redis.call('HLEN', cur_map) > size then redis.call('RENAME', cur_map, prev_map) end
    for _, map in ipairs({cur_map, prev_map}) do redis.call('EXPIRE', map, ttl) end
  end
end
local function verdict_of(has_guid, prev, u, url_new)
  if has_guid then
    if prev and prev ~= u then return 'moved' end
    if prev then return 'seen' end
    if not url_new then return 'guid_changed' end
  elseif not url_new then return 'seen' end
  return 'new'
end
-- Claim one entry's URL (its n shards from KEYS[first]) and record its work when new: its
-- verdict, and 1 when the URL was new.
local function claim_entry(first, n, ttl, now, ledger, u, has_guid, prev, wid, wjson)
  local url_new = claim_url(first, n, u, ttl) == 1
  local verdict = verdict_of(has_guid, prev, u, url_new)
  if verdict == 'new' then record_work(ledger, wid, wjson, now) end
  return verdict, url_new and 1 or 0
end
"""

_CLAIM_ENTRIES = (
    CLAIM_URL_LUA
    + RECORD_LUA
    + GUID_MAPS_LUA
    + """
local cur_map, prev_map, table, ledger = KEYS[1], KEYS[2], KEYS[3], {KEYS[4], KEYS[5], KEYS[6], KEYS[7]}
local ttl, now, epoch, n, size = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
forget_idle(cur_map, prev_map, now, ttl)
local out, added, i = {}, 0, 0
for a = 6, #ARGV, 4 do
  local u, g = ARGV[a], ARGV[a + 1]
  local prev = g ~= '' and (redis.call('HGET', cur_map, g) or redis.call('HGET', prev_map, g))
  local verdict, new = claim_entry(8 + i * n, n, ttl, now, ledger, u, g ~= '', prev, ARGV[a + 2], ARGV[a + 3])
  if g ~= '' then redis.call('HSET', cur_map, g, u) end
  i, added = i + 1, added + new
  out[#out + 1] = verdict
end
count_claimed(table, epoch, added, ARGV[2])
turn_over(cur_map, prev_map, now, size, ttl)
return out
"""
)

# The partitioned claim (a Redis Cluster): one partition's entries, their GUIDs' URLs read
# before. KEYS = the seen epoch table, the ledger's keys (four), then n seen shards per entry.
# ARGV = ttl, now, current seen epoch, n, then per entry: url field, 1 when it has a GUID,
# the URL field the GUID maps gave it ('' when none), work id, work JSON. The verdicts are
# those of _CLAIM_ENTRIES.
_CLAIM_PLACED = (
    CLAIM_URL_LUA
    + RECORD_LUA
    + GUID_MAPS_LUA
    + """
local table, ledger = KEYS[1], {KEYS[2], KEYS[3], KEYS[4], KEYS[5]}
local ttl, now, epoch, n = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local out, added, i = {}, 0, 0
for a = 5, #ARGV, 5 do
  local u, has_guid, prev = ARGV[a], ARGV[a + 1] == '1', ARGV[a + 2] ~= '' and ARGV[a + 2]
  local verdict, new = claim_entry(6 + i * n, n, ttl, now, ledger, u, has_guid, prev, ARGV[a + 3], ARGV[a + 4])
  i, added = i + 1, added + new
  out[#out + 1] = verdict
end
count_claimed(table, epoch, added, ARGV[2])
return out
"""
)

# KEYS = a feed's current and previous GUID maps. ARGV = ttl, now, map size, then (guid digest,
# url field) pairs. What _CLAIM_ENTRIES does to the maps, for the partitioned claim.
_REMEMBER_GUIDS = (
    CLAIM_URL_LUA
    + RECORD_LUA
    + GUID_MAPS_LUA
    + """
local cur_map, prev_map = KEYS[1], KEYS[2]
local ttl, now, size = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
forget_idle(cur_map, prev_map, now, ttl)
for a = 4, #ARGV, 2 do redis.call('HSET', cur_map, ARGV[a], ARGV[a + 1]) end
turn_over(cur_map, prev_map, now, size, ttl)
return 1
"""
)
# The partitioned claim's first step: a feed's maps forgotten when idle past the window (as
# _CLAIM_ENTRIES does first), then the slot each GUID is remembered under ('' when unknown).
_READ_GUIDS = (
    GUID_MAPS_LUA
    + """
forget_idle(KEYS[1], KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[1]))
local out = {}
for a = 3, #ARGV do
  out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[a]) or redis.call('HGET', KEYS[2], ARGV[a]) or ''
end
return out
"""
)
GUID_MAP_MIN = 100  # GUIDs a feed's map holds before it turns over: small feeds stay compact


class FeedStore:
    def __init__(self, client: Client, seen: SeenUrls) -> None:
        self.r = client
        self.seen = seen
        self.partitioned = len(seen.parts) > 1
        self._claim_due = client.register_script(_CLAIM_DUE)
        self._claim_entries = client.register_script(_CLAIM_ENTRIES)
        self._claim_placed = client.register_script(_CLAIM_PLACED)
        self._remember_guids = client.register_script(_REMEMBER_GUIDS)
        self._read_guids = client.register_script(_READ_GUIDS)

    def _guid_maps(self, feed_id: str) -> tuple[str, str]:
        """A feed's current and previous GUID maps."""
        if self.partitioned:
            return keys.feed_guids_apart(feed_id, "cur"), keys.feed_guids_apart(feed_id, "prev")
        return keys.feed_guids(feed_id, "cur"), keys.feed_guids(feed_id, "prev")

    # -- registry and schedule -----------------------------------------------------------------
    def register(self, configs: dict[str, str], now: float) -> None:
        """Add or update feeds (id -> config JSON); a new one is due at once, a paused one stays paused."""
        if not configs:
            return
        ids = list(configs)
        pipe = self.r.pipeline(transaction=False)
        for feed_id in ids:
            pipe.hget(keys.feed_state(feed_id), "paused")
        paused = [bool(p) for p in pipe.execute()]
        pipe = batch(self.r)
        for feed_id, is_paused in zip(ids, paused, strict=True):
            pipe.hset(keys.FEEDS, feed_id, configs[feed_id])
            if not is_paused:
                pipe.zadd(keys.FEEDS_NEXT, {feed_id: now}, nx=True)
        pipe.execute()

    def remove(self, feed_id: str) -> bool:
        """Forget a feed: config, schedule, state and GUID memory (its seen URLs stay seen)."""
        pipe = batch(self.r)
        pipe.hdel(keys.FEEDS, feed_id)
        pipe.zrem(keys.FEEDS_NEXT, feed_id)
        for key in (keys.feed_state(feed_id), *self._guid_maps(feed_id)):
            pipe.delete(key)  # one by one: on a cluster they lie in different slots
        removed, *_ = pipe.execute()
        return bool(removed)

    def exists(self, feed_id: str) -> bool:
        return bool(self.r.hexists(keys.FEEDS, feed_id))

    def config(self, feed_id: str) -> dict[str, Any] | None:
        raw = self.r.hget(keys.FEEDS, feed_id)
        return json.loads(raw) if raw else None

    def configs(self) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.r.hvals(keys.FEEDS)]

    def unschedule(self, feed_id: str) -> None:
        self.r.zrem(keys.FEEDS_NEXT, feed_id)

    def schedule(self, feed_id: str, when: float, *, only_known: bool = True) -> None:
        """Set the feed's next poll (only for a feed still scheduled, unless `only_known` is off)."""
        pipe = batch(self.r)
        if only_known:
            pipe.zadd(keys.FEEDS_NEXT, {feed_id: when}, xx=True)
        else:
            pipe.zadd(keys.FEEDS_NEXT, {feed_id: when})
        pipe.hset(keys.feed_state(feed_id), "next_poll", repr(when))
        pipe.execute()

    def claim_due(self, now: float, lease: float, limit: int = 500) -> list[str]:
        """Ids of the feeds due by `now`, their next time pushed `lease` ahead."""
        ids = self._claim_due(keys=[keys.FEEDS_NEXT], args=[repr(now), repr(lease), limit])
        return [text(i) for i in ids]

    def next_polls(self) -> dict[str, float]:
        pairs: list[tuple[bytes, float]] = self.r.zrange(keys.FEEDS_NEXT, 0, -1, withscores=True)  # type: ignore[assignment]
        return {text(k): float(v) for k, v in pairs}

    # -- per-feed state ------------------------------------------------------------------------
    def state(self, feed_id: str) -> dict[str, str]:
        return {text(k): text(v) for k, v in self.r.hgetall(keys.feed_state(feed_id)).items()}

    def update(self, feed_id: str, **fields: Any) -> None:
        if fields:
            mapping: dict[Any, Any] = {name: "" if value is None else str(value) for name, value in fields.items()}
            self.r.hset(keys.feed_state(feed_id), mapping=mapping)

    def bump(self, feed_id: str, name: str, amount: int = 1) -> int:
        return int(self.r.hincrby(keys.feed_state(feed_id), name, amount))

    # -- entries ---------------------------------------------------------------------------------
    def claim_entries(
        self,
        feed_id: str,
        entries: Sequence[tuple[str, str]],
        work: Sequence[WorkItem],
        now: float | None = None,
    ) -> list[str]:
        """The verdict for each (url digest, guid) entry, claimed atomically; the work of each new
        entry (`work`, one item per entry) enters the ledger in the same step."""
        if not entries:
            return []
        now = self.seen.now() if now is None else now
        size = max(GUID_MAP_MIN, 2 * len(entries))
        if self.partitioned:
            return self._claim_apart(feed_id, entries, work, now, size)
        plan = self.seen.plan([digest for digest, _guid in entries])
        args: list[str | int | bytes] = [self.seen.ttl, repr(now), plan.epoch, plan.per_digest, size]
        for field, (_digest, guid), item in zip(plan.fields, entries, work, strict=True):
            args += [field, guid_digest(guid) if guid else "", item.id, item.to_json()]
        claim_keys = [*self._guid_maps(feed_id), plan.part.seen_epochs, *plan.part.ledger, *plan.shards]
        return [text(v) for v in self._claim_entries(keys=claim_keys, args=args)]

    def _claim_apart(
        self, feed_id: str, entries: Sequence[tuple[str, str]], work: Sequence[WorkItem], now: float, size: int
    ) -> list[str]:
        """The claim on a partitioned layout (see the module docstring)."""
        maps = self._guid_maps(feed_id)
        guids = [guid_digest(guid) if guid else "" for _digest, guid in entries]
        wanted = sorted({g for g in guids if g})
        known: dict[str, bytes] = {}
        if wanted:  # the two maps share the feed's slot
            found = self._read_guids(keys=list(maps), args=[self.seen.ttl, repr(now), *wanted])
            known = {g: v for g, v in zip(wanted, found, strict=True) if v}
        verdicts = [""] * len(entries)
        fields: dict[int, bytes] = {}
        digests = [digest for digest, _guid in entries]
        for part, positions in self.seen.by_part(digests).items():
            plan = self.seen.plan([digests[i] for i in positions], part)
            args: list[str | int | bytes] = [self.seen.ttl, repr(now), plan.epoch, plan.per_digest]
            for i, field in zip(positions, plan.fields, strict=True):
                self.seen.check_placed(part, work[i].id)
                fields[i] = field
                args += [field, "1" if guids[i] else "0", known.get(guids[i], b""), work[i].id, work[i].to_json()]
            claim_keys = [plan.part.seen_epochs, *plan.part.ledger, *plan.shards]
            for i, verdict in zip(positions, self._claim_placed(keys=claim_keys, args=args), strict=True):
                verdicts[i] = text(verdict)
        remembered: list[str | bytes | int] = [self.seen.ttl, repr(now), size]
        for i, g in enumerate(guids):
            if g:
                remembered += [g, fields[i]]
        self._remember_guids(keys=list(maps), args=remembered)
        return verdicts

    def guid_map_sizes(self, feed_id: str) -> list[int]:
        """Entries of the feed's current and previous GUID maps (its memory bound)."""
        return [int(self.r.hlen(m)) for m in self._guid_maps(feed_id)]

    def guid_ttls(self, feed_id: str) -> list[int]:
        return [t for t in (self.r.ttl(k) for k in self._guid_maps(feed_id)) if t and t > 0]
