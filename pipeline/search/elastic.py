"""Elasticsearch search backend: the distributed path, for clusters of millions of articles.

Articles live in monthly indices (`newsflow-articles-2026.01-v1`, ...), one per month of
publication (the month first seen when the page gives no date), all read through one alias
(`newsflow-articles`). Each month also has a write alias (`newsflow-articles-2026.01`), so
`reindex()` can rebuild a month beside the live index and swap both aliases in one atomic
`_aliases` call, and retention (`prune()`) drops whole months. A composable index template,
`config/elasticsearch/articles.json`, gives each new monthly index its settings and mappings.

A deployment from before the monthly indices keeps its single index (`newsflow-articles-v1`)
behind the alias: it is read with the rest, new articles go to monthly indices, an article
written again moves out of it, and `reindex()` splits it into months.

Every write carries an external version (milliseconds of `indexed_at`), so a copy made by a
reindex never overwrites a newer write, and a 409 conflict means "a newer copy is already
stored": it counts as indexed, not as a failure.

Errors follow `pipeline.errors`: an unreachable or busy cluster raises `TransientError` (the
caller's task retries; writes are idempotent by `Article.id`), a document the cluster refuses
lands in `IndexOutcome.rejected` with the reason (the caller dead-letters it). Credentials are
handed to the client and never appear in a message, a log line or `repr()`.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.settings import Settings
from urllib.parse import unquote, urlsplit, urlunsplit

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError, TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError
from pydantic import SecretStr, ValidationError

from pipeline.errors import PermanentError, TransientError
from pipeline.models import Article, as_utc
from pipeline.search.base import IndexOutcome, Pruned, SearchPage, SearchQuery
from pipeline.search.highlight import make_hit
from pipeline.search.query import RECENCY_BOOST, ParsedQuery, Phrase, prepare, ranks_by_text, recent_since

log = logging.getLogger(__name__)

TEMPLATE_FILE = Path(__file__).resolve().parents[2] / "config" / "elasticsearch" / "articles.json"

# Languages with a built-in Elasticsearch analyzer (no plugin needed); the text of an article
# in one of them is also indexed under `lang.<code>` for stemmed matching.
LANGUAGE_FIELDS = ("en", "fr", "de", "es", "id")
# Fields we add for the index only; stripped before a document becomes an Article again.
INTERNAL_FIELDS = ("collapse_key", "indexed_at", "lang")
# Per-item or per-request statuses that mean "busy or broken for now": retry them.
_RETRY_STATUS = frozenset({408, 429})
# Collapsed results page with from/size: Elasticsearch refuses search_after with collapse
# unless the sort is the collapse field alone. Past this offset there is no next page.
MAX_COLLAPSED_OFFSET = 10_000
_OFFSET = "offset"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ProgressCallback = Callable[[int, int], None]


@dataclass
class MonthRebuilt:
    """One month of `reindex()`: `target` built from `sources`, then put behind the aliases."""

    month: str
    sources: list[str]
    target: str
    copied: int = 0
    caught_up: int = 0  # documents written to the month's old index while the copy ran


@dataclass
class ReindexResult:
    """What `reindex()` did, month by month."""

    months: list[MonthRebuilt] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)  # single indices from before months, out of the alias
    rejected: dict[str, str] = field(default_factory=dict)

    @property
    def copied(self) -> int:
        return sum(m.copied for m in self.months)

    @property
    def caught_up(self) -> int:
        return sum(m.caught_up for m in self.months)


@dataclass(frozen=True)
class _Op:
    doc_id: str
    target: str  # a month's write alias, or a concrete index (reindex)
    data: bytes  # action line + source line, newline-terminated
    version: int | None = None  # the external version written


@dataclass(frozen=True)
class _Copy:
    """Where a stored copy of a document is, and the dates that placed it there."""

    index: str
    published_at: str | None
    fetched_at: str | None


def template_file(path: Path | None = None) -> dict[str, Any]:
    """The composable index template, `config/elasticsearch/articles.json`, as written."""
    if path is None and not TEMPLATE_FILE.is_file():
        # Installed without the source tree: the file ships as package data of `config`.
        text = resources.files("config").joinpath("elasticsearch/articles.json").read_text(encoding="utf-8")
    else:
        text = Path(path or TEMPLATE_FILE).read_text(encoding="utf-8")
    body: dict[str, Any] = json.loads(text)
    return body


def load_template(path: Path | None = None) -> dict[str, Any]:
    """The settings and mappings every article index gets (the template's `template` part)."""
    inner = template_file(path).get("template", {})
    return {k: v for k, v in inner.items() if k in ("settings", "mappings")}


def month_of(when: datetime) -> str:
    """The month an instant belongs to, as a monthly index names it: `2026.01` (UTC)."""
    when = as_utc(when)
    # Index names (and the template's patterns) need a four-digit year from 1000 to 2999;
    # a date outside that is a page's nonsense, kept at the edge rather than refused.
    if when.year < 1000:
        return "1000.01"
    if when.year > 2999:
        return "2999.12"
    return f"{when.year:04d}.{when.month:02d}"


def month_span(month: str) -> tuple[datetime, datetime]:
    """The first instant of a month (`2026.01`) and the first of the next."""
    year, mon = (int(part) for part in month.split("."))
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _month_query(month: str) -> dict[str, Any]:
    """The documents of one month; the first and last months `month_of` names take every date
    before and after them too (a page's nonsense date is placed there)."""
    start, end = month_span(month)
    first, last = month_of(datetime.min), month_of(datetime.max)
    return dated(None if month == first else start, None if month == last else end)


def dated(gte: datetime | None = None, lt: datetime | None = None) -> dict[str, Any]:
    """The query for the documents whose date is in [gte, lt): the date that places an article
    in a month, its publication, else when it was fetched, else when it was indexed."""
    bounds = {k: as_utc(v).isoformat() for k, v in (("gte", gte), ("lt", lt)) if v is not None}
    no_pub = {"exists": {"field": "published_at"}}
    no_fetch = {"exists": {"field": "fetched_at"}}
    return {
        "bool": {
            "should": [
                {"range": {"published_at": bounds}},
                {"bool": {"must_not": [no_pub], "filter": [{"range": {"fetched_at": bounds}}]}},
                {"bool": {"must_not": [no_pub, no_fetch], "filter": [{"range": {"indexed_at": bounds}}]}},
            ],
            "minimum_should_match": 1,
        }
    }


def nfc(value: Any) -> Any:
    """Every string inside `value` in Unicode NFC, so composed and decomposed text index alike."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [nfc(v) for v in value]
    if isinstance(value, dict):
        return {k: nfc(v) for k, v in value.items()}
    return value


def _secret(value: SecretStr | str | None) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value() or None
    return value or None


class ElasticsearchBackend:
    """Search over an Elasticsearch 8.x cluster (or 9.x, which the 8.x client also speaks to)."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: SecretStr | str | None = None,
        api_key: SecretStr | str | None = None,
        ca_certs: Path | str | None = None,
        index: str = "newsflow-articles",
        batch_size: int = 200,
        batch_bytes: int = 5 * 1024 * 1024,
        max_retries: int = 5,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
        refresh: bool = False,
        request_timeout: float = 30.0,
        template: Path | None = None,
        shards: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(url)
        # Credentials written into the URL move to the auth settings, out of every message.
        if parts.username is not None and username is None:
            username = unquote(parts.username)
            password = password or (unquote(parts.password) if parts.password else None)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
        self.url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        self.alias = index
        self.batch_size = max(1, batch_size)
        self.batch_bytes = max(1, batch_bytes)
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.refresh = refresh
        self._template_path = template
        self._shards = shards
        self._template_put = False  # by this process: a month's index is created only after it
        self._sleep = sleep
        password_s, api_key_s = _secret(password), _secret(api_key)
        if api_key_s and username:
            raise ValueError("Elasticsearch: set either elasticsearch_api_key or a username and password, not both")
        self._secrets = [s for s in (password_s, api_key_s) if s]
        tls: dict[str, Any] = {"ca_certs": str(ca_certs)} if ca_certs else {}
        self._client = Elasticsearch(
            self.url,
            basic_auth=(username, password_s or "") if username else None,
            api_key=api_key_s,
            **tls,
            request_timeout=request_timeout,
            # The transport retries a connection error a few times; past that it is ours to
            # report as transient, and the task's own retry takes over.
            max_retries=2,
            retry_on_timeout=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ElasticsearchBackend:
        """Build from `pipeline.settings.Settings` (requires `elasticsearch_url`); keywords override."""
        if not settings.elasticsearch_url:
            raise ValueError("ELASTICSEARCH_URL is not set: the Elasticsearch backend needs a cluster URL")
        kwargs: dict[str, Any] = {
            "username": settings.elasticsearch_username,
            "password": settings.elasticsearch_password,
            "api_key": settings.elasticsearch_api_key,
            "ca_certs": settings.elasticsearch_ca_certs,
            "index": settings.elasticsearch_index,
            "shards": settings.elasticsearch_shards,
            "batch_size": settings.index_batch_size,
        }
        return cls(settings.elasticsearch_url, **{**kwargs, **overrides})

    def __repr__(self) -> str:
        return f"ElasticsearchBackend({self.url!r}, index={self.alias!r})"

    # -- errors ---------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return re.sub(r"//[^/@\s]+@", "//***@", text)

    def _error(self, what: str, exc: Exception) -> Exception:
        """The newsflow outcome for a client error, with a message that names the call."""
        where = f"elasticsearch {what} ({self.url}, index {self.alias})"
        if isinstance(exc, TlsError):
            return PermanentError(f"{where}: TLS failed ({self._redact(str(exc))}); check elasticsearch_ca_certs")
        if isinstance(exc, (TransportConnectionError, ConnectionTimeout)):
            return TransientError(f"{where}: cluster unreachable ({type(exc).__name__}); nothing was lost, retry later")
        if isinstance(exc, ApiError):
            status = exc.meta.status
            detail = self._redact(f"HTTP {status} {exc.error}: {_reason_of(exc.body)}")
            if status in _RETRY_STATUS or status >= 500:
                return TransientError(f"{where}: {detail}; cluster busy, retry later", retry_after=_retry_after(exc))
            if status in (401, 403):
                return PermanentError(f"{where}: {detail}; check the Elasticsearch credentials in settings")
            return PermanentError(f"{where}: {detail}")
        return TransientError(f"{where}: {type(exc).__name__}: {self._redact(str(exc))}")

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        """Raise client errors as newsflow outcomes (`TransientError`, `PermanentError`)."""
        try:
            yield
        except (ApiError, TransportError) as exc:
            raise self._error(what, exc) from None

    # -- index lifecycle ------------------------------------------------------------------

    def ensure_ready(self) -> None:
        """Put the index template, and create this month's index behind the alias unless the
        alias exists (a deployment from before the monthly indices keeps its single index)."""
        with self._calling("ensure_ready"):
            self._put_template()
            indices = self._client.indices
            if indices.exists_alias(name=self.alias):
                return
            if indices.exists(index=self.alias):
                raise PermanentError(
                    f"elasticsearch ensure_ready ({self.url}): {self.alias} is a concrete index, not an alias; "
                    f"move it to a versioned index ({self.alias}-v1) and alias it, or pick another elasticsearch_index"
                )
        self._create_month(month_of(datetime.now(UTC)))

    def _template(self) -> dict[str, Any]:
        """The settings and mappings of a new index: the template file's, with `shards` if set."""
        template = load_template(self._template_path)
        if self._shards is not None:
            template["settings"] = {**template.get("settings", {}), "number_of_shards": self._shards}
        return template

    def _put_template(self) -> None:
        """The composable template that gives every new monthly index its settings and mappings."""
        body = template_file(self._template_path)
        self._client.indices.put_index_template(
            name=self.alias,
            index_patterns=[p.replace("{alias}", self.alias) for p in body["index_patterns"]],
            priority=int(body.get("priority", 200)),
            template=self._template(),
            meta={"managed_by": "newsflow", "alias": self.alias},
        )
        self._template_put = True

    def month_alias(self, month: str) -> str:
        """The write alias of a month (`newsflow-articles-2026.01`)."""
        return f"{self.alias}-{month}"

    def month_index(self, month: str, version: int) -> str:
        return f"{self.alias}-{month}-v{version}"

    def _parse(self, name: str) -> tuple[str | None, int] | None:
        """(month, version) of one of our monthly indices, (None, version) of a single index from
        before the monthly ones, None for an index that is not ours."""
        prefix = re.escape(self.alias)
        if m := re.fullmatch(rf"{prefix}-(\d{{4}}\.\d{{2}})-v(\d+)", name):
            return m.group(1), int(m.group(2))
        if m := re.fullmatch(rf"{prefix}-v(\d+)", name):
            return None, int(m.group(1))
        return None

    def _create_month(self, month: str) -> None:
        """Create a month's first index, behind the read alias and as its month's write index.

        The template gives it its settings and mappings. Several workers may start a new month
        at once: the one that loses finds the index there, which is all it wanted.
        """
        name = self.month_index(month, 1)
        aliases = {self.alias: {}, self.month_alias(month): {"is_write_index": True}}
        with self._calling(f"create {name}"):
            if not self._template_put:  # a backend used without ensure_ready(): no index without mappings
                self._put_template()
            try:
                self._client.indices.create(index=name, aliases=aliases)
            except ApiError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
                if not self._client.indices.exists_alias(name=self.month_alias(month)):
                    # Left without its aliases (an earlier run stopped between two calls): adopt it.
                    actions = [{"add": {"index": name, "alias": a, **v}} for a, v in aliases.items()]
                    self._client.indices.update_aliases(actions=actions)

    def live_indices(self) -> dict[str, str | None]:
        """The concrete indices the alias reads, each with its month (None: a single index from
        before the monthly ones), oldest month first."""
        with self._calling("get alias"):
            try:
                names = list(self._client.indices.get_alias(name=self.alias).body)
            except NotFoundError:
                return {}
        found: dict[str, str | None] = {}
        for name in names:
            parsed = self._parse(name)
            found[name] = parsed[0] if parsed else None
        return dict(sorted(found.items(), key=lambda kv: (kv[1] or "", kv[0])))

    def owned_indices(self) -> dict[str, tuple[str | None, int]]:
        """Every index of this alias's naming that exists, behind the alias or not (versions a
        reindex replaced are kept for the operator): name -> (month or None, version)."""
        patterns = ",".join(f"{self.alias}-{p}" for p in ("v*", "1*", "2*"))
        with self._calling("list indices"):
            found = self._client.indices.get(index=patterns, allow_no_indices=True, expand_wildcards="open,closed")
        owned = {name: parsed for name in found.body if (parsed := self._parse(name))}
        return dict(sorted(owned.items(), key=lambda kv: (kv[1][0] or "", kv[1][1])))

    def drop(self) -> None:
        """Delete every index of the alias and the template (tests and `newsflow reset` only)."""
        names = list(self.owned_indices())
        with self._calling("delete indices"):
            for name in names:  # by name: clusters may refuse wildcard deletes
                self._client.indices.delete(index=name, ignore_unavailable=True)
            with suppress(NotFoundError):
                self._client.indices.delete_index_template(name=self.alias)

    def refresh_now(self) -> None:
        """Make every write so far visible to search."""
        with self._calling("refresh"):
            self._client.indices.refresh(index=self.alias)

    # -- writes ---------------------------------------------------------------------------

    def index(self, articles: Iterable[Article]) -> IndexOutcome:
        return self.index_docs(to_es_doc(a) for a in articles)

    def index_docs(self, docs: Iterable[Mapping[str, Any]], *, index: str | None = None) -> IndexOutcome:
        """Bulk-index ready documents (each with an `id`), batched by count and bytes.

        Each document goes to its month's index (`index`, a concrete index, for a reindex's
        copy), and a copy of it stored in another index is deleted once it is written. Busy
        items are retried with backoff; refused items end in `rejected`; an unreachable
        cluster, or items still busy after `max_retries`, raise `TransientError`.
        """
        outcome = IndexOutcome()
        chunk: list[Mapping[str, Any]] = []
        for doc in docs:
            chunk.append(doc)
            if len(chunk) >= self.batch_size:
                self._write(chunk, index, outcome)
                chunk = []
        if chunk:
            self._write(chunk, index, outcome)
        return outcome

    def _write(self, docs: list[Mapping[str, Any]], index: str | None, outcome: IndexOutcome) -> None:
        if index is not None:
            self._send_all([self._op(index, doc) for doc in docs], outcome, {}, [])
            return
        copies = self._locate([str(doc["id"]) for doc in docs])
        ops = [self._op(self.month_alias(self._month(doc, copies.get(str(doc["id"]), []))), doc) for doc in docs]
        placed: dict[str, str] = {}
        missing: list[_Op] = []
        self._send_all(ops, outcome, placed, missing)
        if missing:
            # The first article of a month: create its index (from the template), then send again.
            for month in sorted({op.target.removeprefix(f"{self.alias}-") for op in missing}):
                self._create_month(month)
            gone: list[_Op] = []
            self._send_all(missing, outcome, placed, gone)
            for op in gone:  # deleted again in between (a prune, an operator): refused, replayable
                outcome.rejected[op.doc_id] = f"HTTP 404: {op.target} vanished right after it was created; replay"
        stale = [
            (copy.index, doc_id, op)
            for op in ops
            if (doc_id := op.doc_id) in placed
            for copy in copies.get(doc_id, [])
            if copy.index != placed[doc_id]
        ]
        if stale:
            self._delete_stale(stale)

    def _month(self, doc: Mapping[str, Any], copies: list[_Copy]) -> str:
        """The month whose index holds a document: its publication's, else the month it was
        first seen (the earliest fetch of this copy and the stored ones), else this one.

        A page re-cleaned later keeps its fetch time, so it goes back to the same month; one
        whose publication date changed, or was found this time, moves to its new month.
        """
        published = _instant(doc.get("published_at"))
        if published:
            return month_of(published)
        fetched = [f for f in (_instant(v) for v in [doc.get("fetched_at"), *(c.fetched_at for c in copies)]) if f]
        return month_of(min(fetched) if fetched else datetime.now(UTC))

    def _locate(self, doc_ids: list[str]) -> dict[str, list[_Copy]]:
        """The stored copies of these documents, in whichever index of the alias they are.

        A search, so a copy written less than a refresh interval ago (1 s) may not be found
        yet: an article written twice that quickly, its month changed in between, can keep a
        stale copy in the old month until it is written again (collapsed search shows one).
        """
        found: dict[str, list[_Copy]] = {}
        with self._calling("locate documents"):
            try:
                resp = self._client.search(
                    index=self.alias,
                    query={"ids": {"values": doc_ids}},
                    source_includes=["published_at", "fetched_at"],
                    size=min(10_000, 4 * len(doc_ids)),  # room for copies in several months
                    track_total_hits=False,
                )
            except NotFoundError:
                return found  # no alias yet: the month's index is created with it
        for hit in resp["hits"]["hits"]:
            src = hit.get("_source") or {}
            copy = _Copy(hit["_index"], src.get("published_at"), src.get("fetched_at"))
            found.setdefault(hit["_id"], []).append(copy)
        return found

    def _delete_stale(self, stale: list[tuple[str, str, _Op]]) -> None:
        """Delete the copies a document left in another index when it moved month. A copy
        newer than the write (a 409) stays; a failure only leaves a copy the next write removes."""
        lines = []
        for index, doc_id, op in stale:
            action: dict[str, Any] = {"_index": index, "_id": doc_id}
            if op.version is not None:
                action |= {"version": op.version, "version_type": "external_gte"}
            lines.append(json.dumps({"delete": action}, separators=(",", ":")))
        with self._calling(f"delete {len(stale)} moved copies"):
            resp = self._client.bulk(
                operations="\n".join(lines) + "\n",  # type: ignore[arg-type]
                refresh="true" if self.refresh else None,
            )
        for item in resp["items"]:
            result = next(iter(item.values()))
            if int(result.get("status", 500)) not in (200, 404, 409):
                log.warning(
                    "elasticsearch: the old copy of %s in %s stays until its next write (%s)",
                    result.get("_id"), result.get("_index"), _reason_of(result),
                )  # fmt: skip

    def _op(self, target: str, doc: Mapping[str, Any]) -> _Op:
        doc_id = str(doc["id"])
        action: dict[str, Any] = {"_index": target, "_id": doc_id}
        if self._parse(target) is None:
            # A month's write alias: without it, a cluster would auto-create a concrete index
            # with dynamic mappings; with it, a missing month answers 404 and is created.
            action["require_alias"] = True
        indexed_at = doc.get("indexed_at")
        version = _millis(indexed_at) if isinstance(indexed_at, str) else None
        if version is not None:
            action["version"] = version
            action["version_type"] = "external_gte"
        head = json.dumps({"index": action}, separators=(",", ":"))
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        return _Op(doc_id, target, f"{head}\n{body}\n".encode(), version)

    def _send_all(self, ops: list[_Op], outcome: IndexOutcome, placed: dict[str, str], missing: list[_Op]) -> None:
        """Send `ops` in bulk requests bounded by count and bytes."""
        batch: list[_Op] = []
        size = 0
        for op in ops:
            if batch and (len(batch) >= self.batch_size or size + len(op.data) > self.batch_bytes):
                self._send(batch, outcome, placed, missing)
                batch, size = [], 0
            batch.append(op)
            size += len(op.data)
        if batch:
            self._send(batch, outcome, placed, missing)

    def _send(self, batch: list[_Op], outcome: IndexOutcome, placed: dict[str, str], missing: list[_Op]) -> None:
        """One bulk request, its busy items retried: `placed` learns the concrete index of each
        document written, `missing` the documents whose month has no index yet."""
        pending = batch
        attempt = 0
        while pending:
            retry: list[_Op] = []
            reason = ""
            retry_after: float | None = None
            what = f"bulk of {len(pending)} documents"
            try:
                resp = self._client.bulk(
                    # Pre-serialised NDJSON (batches are sized in bytes); the client sends bytes as-is.
                    operations=b"".join(op.data for op in pending),  # type: ignore[arg-type]
                    refresh="true" if self.refresh else None,
                )
            except ApiError as exc:
                if exc.meta.status == 413:
                    self._split(pending, outcome, placed, missing)
                    return
                err = self._error(what, exc)
                if not isinstance(err, TransientError):
                    raise err from None
                retry, reason, retry_after = pending, f"HTTP {exc.meta.status} {exc.error}", err.retry_after
            except TransportError as exc:
                # Unreachable: stop here; the caller's retry re-sends the whole batch (idempotent).
                raise self._error(what, exc) from None
            else:
                for op, item in zip(pending, resp["items"], strict=True):
                    result = next(iter(item.values()))
                    status = int(result.get("status", 500))
                    if status < 300 or status == 409:  # 409: a newer copy is already stored
                        outcome.indexed.append(op.doc_id)
                        placed[op.doc_id] = str(result.get("_index") or op.target)
                    elif status == 404 and _no_such_index(result) and self._parse(op.target) is None:
                        missing.append(op)  # the month's first article: its index is created, then it is sent again
                    elif status in _RETRY_STATUS or status >= 500:
                        retry.append(op)
                        reason = f"HTTP {status} {_reason_of(result)}"
                    else:
                        why = self._redact(f"HTTP {status} {_reason_of(result)}")
                        if status == 404:
                            why += f"; the index {op.target} is missing: run ensure_ready (or reindex), then replay"
                        outcome.rejected[op.doc_id] = why
            if not retry:
                return
            attempt += 1
            if attempt > self.max_retries:
                raise TransientError(
                    f"elasticsearch bulk ({self.url}, index {self.alias}): {len(retry)} documents still refused "
                    f"after {attempt} attempts ({reason}); retry the batch later",
                    retry_after=retry_after,
                )
            delay = retry_after or min(self.backoff_max, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            log.warning(
                "elasticsearch bulk: %d of %d documents busy (%s), attempt %d/%d, retrying in %.1f s",
                len(retry), len(batch), reason, attempt, self.max_retries, delay,
            )  # fmt: skip
            self._sleep(delay)
            pending = retry

    def _split(self, pending: list[_Op], outcome: IndexOutcome, placed: dict[str, str], missing: list[_Op]) -> None:
        """HTTP 413: the request was too large for the cluster; send each half on its own."""
        if len(pending) == 1:
            outcome.rejected[pending[0].doc_id] = (
                f"HTTP 413: document of {len(pending[0].data)} bytes exceeds the cluster's http.max_content_length"
            )
            return
        mid = len(pending) // 2
        log.info("elasticsearch bulk: HTTP 413 for %d documents, splitting in two", len(pending))
        self._send(pending[:mid], outcome, placed, missing)
        self._send(pending[mid:], outcome, placed, missing)

    def delete(self, doc_id: str) -> bool:
        found = False
        for index, _source in self._copies_now(doc_id):
            with self._calling(f"delete {doc_id}"):
                try:
                    self._client.delete(index=index, id=doc_id, refresh="true" if self.refresh else None)
                    found = True
                except NotFoundError:
                    pass
        return found

    # -- reads ----------------------------------------------------------------------------

    def _copies_now(self, doc_id: str) -> list[tuple[str, dict[str, Any]]]:
        """Every stored copy of one document, with its source, as of the last write (a
        real-time get in each index of the alias: one per month, cheap for one id)."""
        names = list(self.live_indices())
        if not names:
            return []
        with self._calling(f"get {doc_id}"):
            resp = self._client.mget(docs=[{"_index": name, "_id": doc_id} for name in names])
        return [(d["_index"], d["_source"]) for d in resp["docs"] if d.get("found")]

    def get(self, doc_id: str) -> Article | None:
        copies = self._copies_now(doc_id)
        if not copies:
            return None
        # Two copies only for a moment (a move between months): the newer write is the article.
        _index, source = max(copies, key=lambda c: str(c[1].get("indexed_at") or ""))
        return from_es_doc(source)

    def count(self) -> int:
        with self._calling("count"):
            return int(self._client.count(index=self.alias)["count"])

    def iter_all(self) -> Iterator[Article]:
        """Every document in id order: each index of the alias scanned on its own (noida-db
        scans only one index of an alias per point in time), merged by id, one copy of each."""
        scans = [self._scan(name, {"match_all": {}}, sort=[{"id": "asc"}]) for name in self.live_indices()]
        merged = heapq.merge(*scans, key=lambda hit: str(hit["_source"]["id"]))
        for _doc_id, copies in itertools.groupby(merged, key=lambda hit: str(hit["_source"]["id"])):
            newest = max(copies, key=lambda hit: str(hit["_source"].get("indexed_at") or ""))
            yield from_es_doc(newest["_source"])

    def _scan(self, index: str, query: dict[str, Any], sort: list[Any], page: int = 500) -> Iterator[dict[str, Any]]:
        """Every hit of `query` in a point-in-time snapshot of `index`, paged with search_after."""
        with self._calling(f"open point in time on {index}"):
            pit = self._client.open_point_in_time(index=index, keep_alive="2m")["id"]
        after: list[Any] | None = None
        try:
            while True:
                with self._calling(f"scan {index}"):
                    resp = self._client.search(
                        pit={"id": pit, "keep_alive": "2m"},
                        query=query,
                        sort=sort,
                        size=page,
                        search_after=after,
                        track_total_hits=False,
                    )
                pit = resp.get("pit_id", pit)
                hits = resp["hits"]["hits"]
                yield from hits
                if len(hits) < page:
                    return
                after = hits[-1]["sort"]
        finally:
            with suppress(ApiError, TransportError):  # it expires on its own after keep_alive
                self._client.close_point_in_time(id=pit)

    def search(self, query: SearchQuery) -> SearchPage:
        parsed, query = prepare(query)
        if parsed.empty:
            return SearchPage.nothing(query.facets)
        body = self._search_body(query, parsed)
        with self._calling("search"):
            resp = self._client.search(index=self.alias, **body)
        raw_hits = resp["hits"]["hits"]
        hits = []
        for h in raw_hits:
            art = from_es_doc(h["_source"])
            size = 1
            if query.collapse:
                size = int(h.get("inner_hits", {}).get("members", {}).get("hits", {}).get("total", {}).get("value", 1))
            hits.append(make_hit(art, query.text, float(h.get("_score") or 0.0), size))
        aggs = resp.get("aggregations", {})
        # Collapsed: clusters (cardinality is exact well below its 40000 precision threshold).
        total = int(aggs["clusters"]["value"]) if query.collapse else int(resp["hits"]["total"]["value"])
        cursor: list[Any] | None = None
        if raw_hits and len(raw_hits) == query.limit:
            if query.collapse:
                offset = body["from_"] + len(raw_hits)
                cursor = [_OFFSET, offset] if offset < MAX_COLLAPSED_OFFSET else None
            else:
                cursor = list(raw_hits[-1]["sort"])
        page = SearchPage(total=total, hits=hits, next_cursor=cursor)
        if query.facets:
            page.facets = _facets(aggs, query.collapse)
        return page

    def _search_body(self, query: SearchQuery, parsed: ParsedQuery) -> dict[str, Any]:
        filters: list[dict[str, Any]] = []
        if query.site:
            filters.append({"term": {"site": query.site}})
        if query.language:
            filters.append({"term": {"language": query.language}})
        if query.cluster:
            filters.append({"term": {"collapse_key": query.cluster}})
        if query.since or query.until:
            bounds: dict[str, str] = {}
            if query.since:
                bounds["gte"] = as_utc(query.since).isoformat()
            if query.until:
                bounds["lt"] = as_utc(query.until).isoformat()
            filters.append({"range": {"published_at": bounds}})
        # Every clause must match in some field, like the embedded backends; the words go
        # through the folding analyzer, so "quyen" and "quyền" meet on the same term.
        must: list[dict[str, Any]] = []
        for alternatives in parsed.clauses:
            either = [_phrase(p) for p in alternatives]
            must.append(either[0] if len(either) == 1 else {"bool": {"should": either, "minimum_should_match": 1}})
        by_text = ranks_by_text(parsed, query)
        bool_query: dict[str, Any] = {"must": must or [{"match_all": {}}], "filter": filters}
        if parsed.excluded:
            bool_query["must_not"] = [_phrase(p) for p in parsed.excluded]
        if by_text:  # the gentle boost of recent news that every backend gives
            recent = as_utc(recent_since()).isoformat()
            bool_query["should"] = [{"range": {"published_at": {"gte": recent, "boost": RECENCY_BOOST}}}]
        by_date: list[Any] = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
        body: dict[str, Any] = {
            "query": {"bool": bool_query},
            "sort": ([{"_score": "desc"}] if by_text else []) + by_date,
            "size": query.limit,
            "source_excludes": ["lang", "extraction"],
            "track_total_hits": True,
        }
        aggs: dict[str, Any] = {}
        cursor = query.search_after
        if query.collapse:
            body["collapse"] = {"field": "collapse_key", "inner_hits": {"name": "members", "size": 0}}
            aggs["clusters"] = {"cardinality": {"field": "collapse_key", "precision_threshold": 40000}}
            if cursor and (len(cursor) != 2 or cursor[0] != _OFFSET):
                raise ValueError(f"search cursor {cursor!r} was not made by a collapsed Elasticsearch search")
            body["from_"] = int(cursor[1]) if cursor else 0
        elif cursor:
            if cursor[0] == _OFFSET:
                raise ValueError(f"search cursor {cursor!r} was made by a collapsed search; pass collapse=True")
            body["search_after"] = cursor
        if query.facets:
            per_cluster = {"clusters": {"cardinality": {"field": "collapse_key", "precision_threshold": 40000}}}
            sub = {"aggs": per_cluster} if query.collapse else {}
            aggs["site"] = {"terms": {"field": "site", "size": 1000}, **sub}
            aggs["language"] = {"terms": {"field": "language", "size": 200}, **sub}
            aggs["published"] = {
                "date_histogram": {
                    "field": "published_at",
                    "calendar_interval": "day",
                    "format": "yyyy-MM-dd",
                    "min_doc_count": 1,
                },
                **sub,
            }
        if aggs:
            body["aggs"] = aggs
        return body

    # -- reindex --------------------------------------------------------------------------

    def reindex(
        self,
        progress: ProgressCallback | None = None,
        *,
        clock_skew: timedelta = timedelta(minutes=5),
    ) -> ReindexResult:
        """Rebuild the articles month by month, each beside its live index, then behind the aliases.

        For each month, `<alias>-<month>-v<N+1>` is built from a point-in-time snapshot of the
        month's index, and the month's documents in a single index from before the monthly
        ones; the month's write alias and the read alias move to it in one `_aliases` call;
        then the documents written to the old index meanwhile are copied too (their versions
        keep a newer write from being overwritten). With a single index to split, every month
        moves in one `_aliases` call that also takes the single index out of the alias, so
        readers never see an article twice. Replaced indices are kept for the operator.
        """
        live = self.live_indices()
        single = [name for name, month in live.items() if month is None]
        months = sorted({m for m in live.values() if m} | self._months_in(single))
        owned = self.owned_indices()
        started = datetime.now(UTC) - clock_skew
        with self._calling("count"):
            total = int(self._client.count(index=self.alias)["count"])
        result = ReindexResult()
        from_single = 0
        template = self._template()
        settings = dict(template.get("settings", {}))
        refresh_interval = settings.get("refresh_interval", "1s")
        settings["refresh_interval"] = "-1"  # no refreshes while bulk loading
        for month in months:
            old = next((name for name, m in live.items() if m == month), None)
            # v2 at least: a writer starting a month meanwhile creates v1, which the swap retires.
            version = max([1, *(v for m, v in owned.values() if m == month)]) + 1
            target = self.month_index(month, version)
            rebuilt = MonthRebuilt(month=month, sources=[*filter(None, [old]), *single], target=target)
            with self._calling(f"create {target}"):
                self._client.indices.create(index=target, settings=settings, mappings=template.get("mappings", {}))
            span = _month_query(month)
            for source in rebuilt.sources:
                base = result.copied + rebuilt.copied

                def step(done: int, base: int = base) -> None:
                    if progress:
                        progress(base + done, max(total, base + done))

                copied = self._copy(source, rebuilt.target, span if source in single else None, result, step)
                rebuilt.copied += copied
                from_single += copied if source in single else 0
            self._settle(rebuilt.target, refresh_interval)  # searchable before readers are moved to it
            result.months.append(rebuilt)
            if not single:
                self._swap([rebuilt], [], started, result)
        if single:
            with self._calling("count"):
                held = sum(int(self._client.count(index=name)["count"]) for name in single)
            if from_single + len(result.rejected) < held:
                raise PermanentError(
                    f"elasticsearch reindex: {held - from_single} document(s) of {', '.join(single)} have no date"
                    " to place them in a month; nothing was swapped (the built indices are not behind the alias)"
                )
            result.retired = single
            self._swap(result.months, single, started, result)
        return result

    def _months_in(self, indices: list[str]) -> set[str]:
        """The months the documents of these indices belong to (`dated()`'s date)."""
        months: set[str] = set()
        no_pub = {"bool": {"must_not": [{"exists": {"field": "published_at"}}]}}
        neither = {"bool": {"must_not": [{"exists": {"field": f}} for f in ("published_at", "fetched_at")]}}

        def by_month(field: str) -> dict[str, Any]:
            return {"date_histogram": {"field": field, "calendar_interval": "month", "min_doc_count": 1}}

        aggs = {
            "published": by_month("published_at"),
            "fetched": {"filter": no_pub, "aggs": {"months": by_month("fetched_at")}},
            "indexed": {"filter": neither, "aggs": {"months": by_month("indexed_at")}},
        }
        for index in indices:  # one at a time: each is its own snapshot of months
            with self._calling(f"months of {index}"):
                found = self._client.search(index=index, size=0, aggs=aggs)["aggregations"]
            buckets = [
                *found["published"]["buckets"],
                *found["fetched"]["months"]["buckets"],
                *found["indexed"]["months"]["buckets"],
            ]
            months |= {month_of(_EPOCH + timedelta(milliseconds=b["key"])) for b in buckets}
        return months

    def _swap(self, rebuilt: list[MonthRebuilt], retire: list[str], started: datetime, result: ReindexResult) -> None:
        """Move the months' aliases to their rebuilt indices, and take `retire` out of the read
        alias, in one `_aliases` call; then copy what the old indices took meanwhile."""
        live = self.live_indices()  # again: a writer may have started a month since the copy
        actions: list[dict[str, Any]] = [{"remove": {"index": name, "alias": self.alias}} for name in retire]
        olds: dict[str, str] = {}
        for month in rebuilt:
            old = next((name for name, m in live.items() if m == month.month), None)
            if old is not None:
                olds[month.month] = old
                actions += [
                    {"remove": {"index": old, "alias": self.alias}},
                    {"remove": {"index": old, "alias": self.month_alias(month.month)}},
                ]
            actions += [
                {"add": {"index": month.target, "alias": self.alias}},
                {"add": {"index": month.target, "alias": self.month_alias(month.month), "is_write_index": True}},
            ]
        with self._calling(f"swap aliases of {len(rebuilt)} month(s)"):
            # One _aliases call: readers and writers see the old indices or the new, never neither.
            self._client.indices.update_aliases(actions=actions)
        late = {"range": {"indexed_at": {"gte": started.isoformat()}}}
        for month in rebuilt:
            if month.month in olds:
                with self._calling(f"refresh {olds[month.month]}"):
                    # Writes that reached the old index before the swap become visible to the catch-up scan.
                    self._client.indices.refresh(index=olds[month.month])
                month.caught_up = self._copy(olds[month.month], month.target, late, result, None)
                self._settle(month.target, None)

    # -- retention ------------------------------------------------------------------------

    def prune(self, before: datetime, *, dry_run: bool = False) -> Pruned:
        """Remove the articles dated before `before` (`dated()`'s date): the months entirely
        older go as whole indices; the month `before` falls in, and a single index from before
        the monthly ones, lose their older articles one by one."""
        before = as_utc(before)
        boundary = month_of(before)
        pruned = Pruned(before=before)
        live = self.live_indices()
        older = dated(lt=before)
        for name, (month, _version) in self.owned_indices().items():
            if month is not None and month_span(month)[1] <= before:
                with self._calling(f"count {name}"):
                    pruned.dropped[name] = int(self._client.count(index=name)["count"])
                if not dry_run:
                    with self._calling(f"delete {name}"):
                        self._client.indices.delete(index=name, ignore_unavailable=True)
        for name, month in live.items():
            if month is not None and month != boundary:
                continue
            with self._calling(f"count {name}"):
                n = int(self._client.count(index=name, query=older)["count"])
            if n and not dry_run:
                # One index at a time: noida-db deletes by query in only one index of an alias.
                with self._calling(f"delete older articles of {name}"):
                    done = self._client.options(request_timeout=3600).delete_by_query(
                        index=name, query=older, conflicts="proceed", refresh=True, slices="auto"
                    )
                n = int(done.get("deleted", n))
            if n:
                pruned.deleted[name] = n
        return pruned

    def _settle(self, index: str, refresh_interval: Any) -> None:
        """Give a built index its refresh interval back (None: leave it) and refresh it."""
        with self._calling(f"refresh {index}"):
            if refresh_interval is not None:
                interval = {"index": {"refresh_interval": refresh_interval}}
                self._client.indices.put_settings(index=index, settings=interval)
            self._client.indices.refresh(index=index)

    def _copy(
        self,
        source: str,
        target: str,
        query: dict[str, Any] | None,
        result: ReindexResult,
        progress: Callable[[int], None] | None,
    ) -> int:
        """Copy the documents of `source` that match `query` (all: None) into `target`."""
        done = 0
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            nonlocal done
            outcome = self.index_docs(batch, index=target)
            result.rejected.update(outcome.rejected)
            done += len(batch)
            batch.clear()
            if progress:
                progress(done)

        for hit in self._scan(source, query or {"match_all": {}}, sort=[{"_shard_doc": "asc"}]):
            src = hit["_source"]
            try:
                doc = to_es_doc(from_es_doc(src), indexed_at=src.get("indexed_at"))
            except ValidationError as exc:
                result.rejected[hit["_id"]] = f"not a valid Article: {exc.error_count()} errors"
                continue
            batch.append(doc)
            if len(batch) >= self.batch_size:
                flush()
        if batch:
            flush()
        return done

    def close(self) -> None:
        self._client.close()


def _phrase(words: Phrase) -> dict[str, Any]:
    """A word in the title (boosted), the body or the stemmed text; a phrase's words next to
    each other in the title or the body (stemming and stop words would loosen a phrase)."""
    if len(words) == 1:
        return {"multi_match": {"query": words[0], "fields": ["title^3", "body", "lang.*"]}}
    return {"multi_match": {"query": " ".join(words), "fields": ["title^3", "body"], "type": "phrase"}}


def to_es_doc(article: Article, indexed_at: str | None = None) -> dict[str, Any]:
    """The document as indexed: the Article in NFC, plus the fields search needs."""
    doc: dict[str, Any] = nfc(article.to_doc())
    # Collapse needs a value on every document: one without a cluster is its own cluster.
    doc["collapse_key"] = article.cluster_id or article.id
    doc["indexed_at"] = indexed_at or datetime.now(UTC).isoformat(timespec="milliseconds")
    lang = (article.language or "").split("-")[0].lower()
    if lang in LANGUAGE_FIELDS:
        doc["lang"] = {lang: f"{doc['title']}\n\n{doc['body']}"}
    return doc


def from_es_doc(source: Mapping[str, Any]) -> Article:
    return Article.from_doc({k: v for k, v in source.items() if k not in INTERNAL_FIELDS})


def _facets(aggs: Mapping[str, Any], collapsed: bool) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name in ("site", "language", "published"):
        counts: dict[str, int] = {}
        for b in aggs.get(name, {}).get("buckets", []):
            n = int(b["clusters"]["value"]) if collapsed else int(b["doc_count"])
            if n:
                counts[str(b.get("key_as_string", b["key"]))] = n
        out[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 date of a document, in UTC; None when missing, or not a date (the mapping
    refuses such a document: where it was routed does not matter)."""
    try:
        return as_utc(datetime.fromisoformat(str(value))) if value else None
    except ValueError:
        return None


def _no_such_index(result: Mapping[str, Any]) -> bool:
    err = result.get("error")
    return isinstance(err, Mapping) and err.get("type") == "index_not_found_exception"


def _millis(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def _reason_of(body: Any) -> str:
    """`type: reason` of an Elasticsearch error body or bulk item, as short as it can be."""
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping):
            caused = err.get("caused_by")
            text = f"{err.get('type', 'error')}: {err.get('reason', '')}"
            if isinstance(caused, Mapping) and caused.get("reason"):
                text += f" ({caused.get('reason')})"
            return text[:500]
        return str(err)[:500]
    return str(body)[:500]


def _retry_after(exc: ApiError) -> float | None:
    value = exc.meta.headers.get("retry-after") if exc.meta.headers else None
    try:
        return float(value) if value else None
    except ValueError:
        return None
