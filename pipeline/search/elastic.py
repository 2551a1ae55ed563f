"""Elasticsearch search backend: the distributed path, for clusters of millions of articles.

Documents live in versioned indices (`newsflow-articles-v1`, `-v2`, ...) reached through one
alias (`newsflow-articles`), so `reindex()` can build a new version beside the live one and
swap the alias in one atomic `_aliases` call. Settings and mappings come from
`config/elasticsearch/articles.json`.

Every write carries an external version (milliseconds of `indexed_at`), so a copy made by a
reindex never overwrites a newer write, and a 409 conflict means "a newer copy is already
stored": it counts as indexed, not as a failure.

Errors follow `pipeline.errors`: an unreachable or busy cluster raises `TransientError` (the
caller's task retries; writes are idempotent by `Article.id`), a document the cluster refuses
lands in `IndexOutcome.rejected` with the reason (the caller dead-letters it). Credentials are
handed to the client and never appear in a message, a log line or `repr()`.
"""

from __future__ import annotations

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
from pipeline.search.base import IndexOutcome, SearchPage, SearchQuery
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

ProgressCallback = Callable[[int, int], None]


@dataclass
class ReindexResult:
    """What `reindex()` did: the alias moved from `source` to `target`."""

    source: str
    target: str
    copied: int = 0
    caught_up: int = 0  # documents written to `source` while the copy ran, copied after the swap
    rejected: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Op:
    doc_id: str
    data: bytes  # action line + source line, newline-terminated


def load_template(path: Path | None = None) -> dict[str, Any]:
    """The create-index body (settings + mappings) from `config/elasticsearch/articles.json`."""
    if path is None and not TEMPLATE_FILE.is_file():
        # Installed without the source tree: the file ships as package data of `config`.
        text = resources.files("config").joinpath("elasticsearch/articles.json").read_text(encoding="utf-8")
    else:
        text = Path(path or TEMPLATE_FILE).read_text(encoding="utf-8")
    body = json.loads(text)
    return {k: v for k, v in body.items() if k in ("settings", "mappings", "aliases")}


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
        """Create `<alias>-v1` from the template and point the alias at it, unless the alias exists."""
        with self._calling("ensure_ready"):
            indices = self._client.indices
            if indices.exists_alias(name=self.alias):
                return
            if indices.exists(index=self.alias):
                raise PermanentError(
                    f"elasticsearch ensure_ready ({self.url}): {self.alias} is a concrete index, not an alias; "
                    f"move it to a versioned index ({self.alias}-v1) and alias it, or pick another elasticsearch_index"
                )
            first = self.version_name(1)
            try:
                indices.create(index=first, aliases={self.alias: {"is_write_index": True}}, **self._template())
            except ApiError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
                # Another worker created it first, or an earlier run stopped before the alias.
                indices.update_aliases(actions=[{"add": {"index": first, "alias": self.alias, "is_write_index": True}}])

    def _template(self) -> dict[str, Any]:
        return load_template(self._template_path)

    def version_name(self, version: int) -> str:
        return f"{self.alias}-v{version}"

    def current_index(self) -> str:
        """The concrete index the alias points at now."""
        with self._calling("get alias"):
            names = sorted(self._client.indices.get_alias(name=self.alias).body)
        if len(names) != 1:
            raise PermanentError(f"elasticsearch alias {self.alias} points at {names}; expected exactly one index")
        return str(names[0])

    def versions(self) -> list[str]:
        """Every versioned index of this alias that exists, oldest first."""
        with self._calling("list indices"):
            found = self._client.indices.get(
                index=f"{self.alias}-v*", allow_no_indices=True, expand_wildcards="open,closed"
            )
        return sorted(found.body, key=_version_of)

    def drop(self) -> None:
        """Delete the alias's indices, every version (tests and `newsflow reset` only)."""
        names = self.versions()
        with self._calling("delete indices"):
            for name in names:  # by name: clusters may refuse wildcard deletes
                self._client.indices.delete(index=name, ignore_unavailable=True)

    def refresh_now(self) -> None:
        """Make every write so far visible to search."""
        with self._calling("refresh"):
            self._client.indices.refresh(index=self.alias)

    # -- writes ---------------------------------------------------------------------------

    def index(self, articles: Iterable[Article]) -> IndexOutcome:
        return self.index_docs(to_es_doc(a) for a in articles)

    def index_docs(self, docs: Iterable[Mapping[str, Any]], *, index: str | None = None) -> IndexOutcome:
        """Bulk-index ready documents (each with an `id`), batched by count and bytes.

        Busy items are retried with backoff; refused items end in `rejected`; an unreachable
        cluster, or items still busy after `max_retries`, raise `TransientError`.
        """
        target = index or self.alias
        outcome = IndexOutcome()
        batch: list[_Op] = []
        size = 0
        for doc in docs:
            op = self._op(target, doc)
            if batch and (len(batch) >= self.batch_size or size + len(op.data) > self.batch_bytes):
                self._send(batch, outcome)
                batch, size = [], 0
            batch.append(op)
            size += len(op.data)
        if batch:
            self._send(batch, outcome)
        return outcome

    def _op(self, target: str, doc: Mapping[str, Any]) -> _Op:
        doc_id = str(doc["id"])
        action: dict[str, Any] = {"_index": target, "_id": doc_id}
        if target == self.alias:
            # Without the alias, a cluster would auto-create a concrete index with dynamic mappings.
            action["require_alias"] = True
        indexed_at = doc.get("indexed_at")
        if isinstance(indexed_at, str):
            action["version"] = _millis(indexed_at)
            action["version_type"] = "external_gte"
        head = json.dumps({"index": action}, separators=(",", ":"))
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        return _Op(doc_id, f"{head}\n{body}\n".encode())

    def _send(self, batch: list[_Op], outcome: IndexOutcome) -> None:
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
                    self._split(pending, outcome)
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
                    elif status in _RETRY_STATUS or status >= 500:
                        retry.append(op)
                        reason = f"HTTP {status} {_reason_of(result)}"
                    else:
                        why = self._redact(f"HTTP {status} {_reason_of(result)}")
                        if status == 404:
                            why += f"; the alias {self.alias} is missing: run ensure_ready (or reindex), then replay"
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

    def _split(self, pending: list[_Op], outcome: IndexOutcome) -> None:
        """HTTP 413: the request was too large for the cluster; send each half on its own."""
        if len(pending) == 1:
            outcome.rejected[pending[0].doc_id] = (
                f"HTTP 413: document of {len(pending[0].data)} bytes exceeds the cluster's http.max_content_length"
            )
            return
        mid = len(pending) // 2
        log.info("elasticsearch bulk: HTTP 413 for %d documents, splitting in two", len(pending))
        self._send(pending[:mid], outcome)
        self._send(pending[mid:], outcome)

    def delete(self, doc_id: str) -> bool:
        with self._calling(f"delete {doc_id}"):
            try:
                self._client.delete(index=self.alias, id=doc_id, refresh="true" if self.refresh else None)
            except NotFoundError:
                return False
        return True

    # -- reads ----------------------------------------------------------------------------

    def get(self, doc_id: str) -> Article | None:
        with self._calling(f"get {doc_id}"):
            try:
                resp = self._client.get(index=self.alias, id=doc_id)
            except NotFoundError:
                return None
        return from_es_doc(resp["_source"])

    def count(self) -> int:
        with self._calling("count"):
            return int(self._client.count(index=self.alias)["count"])

    def iter_all(self) -> Iterator[Article]:
        for hit in self._scan(self.alias, {"match_all": {}}, sort=[{"id": "asc"}]):
            yield from_es_doc(hit["_source"])

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
        target_version: int | None = None,
        progress: ProgressCallback | None = None,
        *,
        page: int = 1000,
        clock_skew: timedelta = timedelta(minutes=5),
    ) -> ReindexResult:
        """Build `<alias>-v<N+1>` (or `target_version`) from the live index and swap the alias.

        The copy reads a point-in-time snapshot; the alias moves in one `_aliases` call; then
        documents written to the old index meanwhile are copied too (their versions keep a
        newer write from being overwritten). The old index is kept for the operator to delete.
        """
        source = self.current_index()
        version = target_version or _version_of(source) + 1
        target = self.version_name(version)
        if target == source:
            raise PermanentError(f"elasticsearch reindex: {target} is already the live index of {self.alias}")
        with self._calling(f"create {target}"):
            if self._client.indices.exists(index=target):
                raise PermanentError(
                    f"elasticsearch reindex: {target} exists already; delete it or pass another target version"
                )
            template = self._template()
            settings = dict(template.get("settings", {}))
            refresh_interval = settings.get("refresh_interval", "1s")
            settings["refresh_interval"] = "-1"  # no refreshes while bulk loading
            self._client.indices.create(index=target, settings=settings, mappings=template.get("mappings", {}))
        started = datetime.now(UTC) - clock_skew
        with self._calling(f"count {source}"):
            total = int(self._client.count(index=source)["count"])
        result = ReindexResult(source=source, target=target)
        result.copied = self._copy(source, target, {"match_all": {}}, result, progress, total)
        self._settle(target, refresh_interval)  # searchable before readers are moved to it
        with self._calling(f"swap alias {self.alias} to {target}"):
            # One _aliases call: readers and writers see the old index or the new, never neither.
            self._client.indices.update_aliases(
                actions=[
                    {"remove": {"index": source, "alias": self.alias}},
                    {"add": {"index": target, "alias": self.alias, "is_write_index": True}},
                ]
            )
        with self._calling(f"refresh {source}"):
            # Writes that reached the old index before the swap become visible to the catch-up scan.
            self._client.indices.refresh(index=source)
        late = {"range": {"indexed_at": {"gte": started.isoformat()}}}
        result.caught_up = self._copy(source, target, late, result, None, 0)
        self._settle(target, refresh_interval)
        return result

    def _settle(self, index: str, refresh_interval: Any) -> None:
        with self._calling(f"refresh {index}"):
            self._client.indices.put_settings(index=index, settings={"index": {"refresh_interval": refresh_interval}})
            self._client.indices.refresh(index=index)

    def _copy(
        self,
        source: str,
        target: str,
        query: dict[str, Any],
        result: ReindexResult,
        progress: ProgressCallback | None,
        total: int,
    ) -> int:
        done = 0
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            nonlocal done
            outcome = self.index_docs(batch, index=target)
            result.rejected.update(outcome.rejected)
            done += len(batch)
            batch.clear()
            if progress:
                progress(done, total)

        for hit in self._scan(source, query, sort=[{"_shard_doc": "asc"}]):
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


def _version_of(index: str) -> int:
    m = re.search(r"-v(\d+)$", index)
    return int(m.group(1)) if m else 0


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
