"""Tantivy search backend: the embedded default, one index directory under the data directory.

Tantivy is a search engine library in the Lucene family (Rust, through its official Python
bindings): BM25 ranking of the top hits, and columns ("fast fields") read per matching
document for sorting and facets. Titles and bodies are indexed accent-folded
(`pipeline.search.folding.fold_text`), so a query typed without diacritics finds text written
with them; documents are stored whole, as JSON, and snippets are cut from them in Python,
as for every backend.

Near-duplicate collapse. A story counts once per site, language and day in the facets, and
once in the total: one member of each cluster (the lowest id) represents the story in the
cluster as a whole, one among its copies on each site, in each language and on each day.
Columns `story`, `site_rep`, `lang_rep` and `day_rep` repeat a document's value where it
represents its story (1, its site, its language, its day) and hold a blank elsewhere
(0, "", "", -1: a column with a value on every document is the fast kind to count), so
the total and the facets of stories are plain counts of terms over the matches, one pass,
no set of clusters per bucket. That is exact when a
story's copies all match the search, as near-duplicates do; the page's hits, their copy
counts (`+N duplicates`) and paging are exact always. Writing a batch keeps the marks right:
the clusters it touches are read back and members whose marks change are written again.

Concurrency: one writer at a time (Tantivy holds a lock file in the directory, released by
the system if the process dies). `index()` and `delete()` take it, commit, and keep it
while writes keep coming; a second without a write lets it go, so the index stage,
`reindex` and tests take turns (a process waits up to a minute for another's writer). A commit is atomic: a writer
killed in the middle leaves the index as of its last commit. Readers check the index's
`meta.json` before each search and reload when a commit changed it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tantivy

from pipeline.errors import PermanentError, TransientError
from pipeline.models import Article, as_utc
from pipeline.search.base import IndexOutcome, Pruned, SearchPage, SearchQuery, article_date
from pipeline.search.folding import fold_text
from pipeline.search.highlight import make_hit
from pipeline.search.query import RECENCY_BOOST, ParsedQuery, Phrase, prepare, ranks_by_text, recent_since

if TYPE_CHECKING:
    from pipeline.settings import Settings

log = logging.getLogger(__name__)

FOLD = "newsflow_fold"  # the text analyzer of title and body (text arrives folded already)
NO_DATE = -(2**62)  # `published` of an undated article: after every dated one, newest first
TITLE_BOOST = 3.0  # a title match weighs as three body matches, as on SQLite and Elasticsearch
OFFSET = "offset"  # cursors are ["offset", n]: the hits (or stories) already shown
MAX_OFFSET = 10_000  # as deep as Elasticsearch pages a collapsed search
# Hits fetched to order one page: 64, 256, 1024, 4096, or as deep as the page needs.
FIRST_RUNG, LAST_RUNG = 64, 4096
MAX_MEMBERS = 100_000  # members of the clusters one batch touches, read back at most
# Facet -> the column counted: of documents, and of stories (collapsed).
FACETS = {"site": ("site", "site_rep"), "language": ("language", "lang_rep"), "published": ("day", "day_rep")}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Row = tuple[float, int, int, int, Any]  # score, published, idn, chash, DocAddress


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("ckey", tokenizer_name="raw", index_option="basic")  # cluster_id, or id when alone
    sb.add_text_field("title", tokenizer_name=FOLD)
    sb.add_text_field("body", tokenizer_name=FOLD)
    sb.add_text_field("site", fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("language", fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("published", fast=True)  # microseconds since 1970, NO_DATE when unknown
    sb.add_integer_field("day", fast=True)  # days since 1970, dated articles only
    sb.add_unsigned_field("idn", fast=True)  # the id's first 8 bytes: id order without the stored text
    sb.add_unsigned_field("chash", fast=True)  # the cluster key's hash, to collapse on
    # The values the document represents (see the module docstring), and which, a bit each.
    sb.add_unsigned_field("story", fast=True)
    sb.add_text_field("site_rep", fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("lang_rep", fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("day_rep", fast=True)
    sb.add_unsigned_field("reps", fast=True)
    sb.add_bytes_field("doc", stored=True)
    return sb.build()


def _analyzer() -> tantivy.TextAnalyzer:
    # Letters and digits, as pipeline.search.query.WORD cuts the query; very long tokens are noise.
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(64))
        .filter(tantivy.Filter.lowercase())
        .build()
    )


def _idn(text: str) -> int:
    return int.from_bytes(text.encode("utf-8")[:8].ljust(8, b"\0"), "big")


def _chash(ckey: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b(ckey.encode("utf-8"), digest_size=8).digest(), "big")


def _micros(value: datetime) -> int:
    delta = as_utc(value) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _ckey(art: Article) -> str:
    return art.cluster_id or art.id


def _groups(art: Article) -> tuple[tuple[str, ...], ...]:
    """The four groups of a cluster the article can represent: story, site, language, day."""
    ck = _ckey(art)
    day = art.published_at.date().isoformat() if art.published_at else ""
    return (("c", ck), ("s", ck, art.site), ("l", ck, art.language or ""), ("d", ck, day))


class TantivyBackend:
    """Embedded search over one Tantivy index directory; safe to share between threads."""

    name = "tantivy"

    def __init__(
        self, path: Path | str, *, heap_bytes: int = 96_000_000, lock_wait: float = 60.0, idle: float = 1.0
    ) -> None:
        self.path = Path(path)
        self.heap_bytes = heap_bytes
        self.lock_wait = lock_wait  # seconds to wait for another process's writer before giving up
        self.idle = idle  # seconds without a write before the writer is let go
        self._held: Any = None
        self._last_write = 0.0
        self._releaser: threading.Thread | None = None
        self._index: tantivy.Index | None = None
        self._schema: tantivy.Schema | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._open_lock = threading.Lock()
        self._write_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> TantivyBackend:
        return cls(settings.tantivy_path)

    def __repr__(self) -> str:
        return f"TantivyBackend({str(self.path)!r})"

    # -- opening and reading ---------------------------------------------------------------

    def _open(self) -> tantivy.Index:
        with self._open_lock:
            if self._index is None:
                self.path.mkdir(parents=True, exist_ok=True)
                try:
                    index = tantivy.Index(build_schema(), path=str(self.path), reuse=True)
                except (OSError, ValueError) as exc:
                    raise PermanentError(
                        f"tantivy index {self.path}: cannot open ({exc}); move it aside and run `newsflow reindex`"
                    ) from None
                index.register_tokenizer(FOLD, _analyzer())
                self._schema = index.schema
                self._index = index
            return self._index

    def ensure_ready(self) -> None:
        self._open()

    def _searcher(self) -> tantivy.Searcher:
        """A searcher on the last commit, whichever process made it."""
        index = self._open()
        try:
            st = (self.path / "meta.json").stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            for attempt in range(5):
                try:
                    index.reload()
                    break
                except (OSError, ValueError) as exc:  # how the binding reports a missing file
                    # A writer in another process may delete the files of segments it merged
                    # between our reading meta.json and opening them: read it again.
                    if attempt == 4:
                        raise TransientError(f"tantivy index {self.path}: cannot reload ({exc}); retry") from None
                    time.sleep(0.05)
            self._stamp = stamp
        return index.searcher()

    @property
    def schema(self) -> tantivy.Schema:
        self._open()
        assert self._schema is not None
        return self._schema

    def _term(self, field: str, value: str) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, field, value)

    def _stored(self, searcher: tantivy.Searcher, address: Any) -> Article:
        raw: Any = searcher.doc(address).get_first("doc")
        return Article.from_doc(json.loads(bytes(raw)))

    def _by_term(self, searcher: tantivy.Searcher, field: str, values: Iterable[str]) -> list[tuple[Any, Article]]:
        values = list(dict.fromkeys(values))
        if not values:
            return []
        query = tantivy.Query.term_set_query(self.schema, field, values)
        hits = searcher.search(query, MAX_MEMBERS, count=False).hits
        return [(address, self._stored(searcher, address)) for _score, address in hits]

    def get(self, doc_id: str) -> Article | None:
        found = self._by_term(self._searcher(), "id", [doc_id])
        return found[0][1] if found else None

    def count(self) -> int:
        return int(self._searcher().num_docs)

    def iter_all(self) -> Iterator[Article]:
        """Every document in id order, a page at a time (a range on the id's column, no offsets)."""
        searcher = self._searcher()
        last: tuple[int, str] = (-1, "")
        while True:
            query = tantivy.Query.all_query()
            if last[0] >= 0:
                query = tantivy.Query.range_query(
                    self.schema, "idn", tantivy.FieldType.Unsigned, lower_bound=last[0]
                )  # fmt: skip
            hits = searcher.search(query, 500, count=False, order_by_field="idn", order=tantivy.Order.Asc).hits
            page = sorted(((int(idn), art.id, art) for idn, art in self._articles(searcher, hits)), key=lambda t: t[:2])
            page = [t for t in page if t[:2] > last]
            if not page:
                return
            for _idn, _id, art in page:
                yield art
            last = page[-1][:2]

    def _articles(self, searcher: tantivy.Searcher, hits: list[tuple[Any, Any]]) -> Iterator[tuple[Any, Article]]:
        for key, address in hits:
            yield key, self._stored(searcher, address)

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def _writer(self) -> Iterator[tuple[Any, tantivy.Searcher]]:
        """The index's one writer and a searcher on the last commit; the writes are committed
        on success, rolled back on failure. The writer is kept between batches (its merges go
        on in the background) and let go after `idle` seconds without a write."""
        with self._write_lock:
            writer = self._held or self._take_writer()
            self._held = writer
            try:
                yield writer, self._searcher()
                writer.commit()
            except BaseException:
                self._held = None
                writer.rollback()
                writer.wait_merging_threads()
                raise
            finally:
                self._last_write = time.monotonic()
            self._searcher()  # this process sees its own commit at once
            if self._releaser is None or not self._releaser.is_alive():
                self._releaser = threading.Thread(target=self._release_when_idle, name="tantivy-writer", daemon=True)
                self._releaser.start()

    def _take_writer(self) -> Any:
        index = self._open()
        deadline = time.monotonic() + self.lock_wait
        while True:
            try:
                return index.writer(heap_size=self.heap_bytes, num_threads=2)
            except ValueError as exc:
                if "LockBusy" not in str(exc):
                    raise PermanentError(f"tantivy index {self.path}: {exc}") from None
                if time.monotonic() > deadline:
                    raise TransientError(
                        f"tantivy index {self.path}: another process has been writing for {self.lock_wait:.0f} s;"
                        " retry later"
                    ) from None
                time.sleep(0.05)

    def _release_when_idle(self) -> None:
        while True:
            time.sleep(self.idle / 2)
            with self._write_lock:
                if self._held is None:
                    return
                if time.monotonic() - self._last_write >= self.idle:
                    self._release()
                    return

    def _release(self) -> None:
        """Let the writer go (under the write lock): its merges finish, then the lock file is free."""
        writer, self._held = self._held, None
        if writer is not None:
            writer.wait_merging_threads()

    def index(self, articles: Iterable[Article]) -> IndexOutcome:
        batch = {a.id: a for a in articles}  # the last copy of an id wins, as a re-run would
        outcome = IndexOutcome()
        if not batch:
            return outcome
        with self._writer() as (writer, searcher):
            self._write(writer, searcher, batch, removed=set())
        outcome.indexed = list(batch)
        return outcome

    def delete(self, doc_id: str) -> bool:
        if self.get(doc_id) is None:
            return False
        with self._writer() as (writer, searcher):
            self._write(writer, searcher, {}, removed={doc_id})
        return True

    def prune(self, before: datetime, *, dry_run: bool = False) -> Pruned:
        """Delete the articles dated before `before`: those published earlier (a range on the
        `published` column), and the undated ones fetched earlier."""
        pruned = Pruned(before=before)
        searcher = self._searcher()
        older = tantivy.Query.range_query(
            self.schema, "published", tantivy.FieldType.Integer,
            lower_bound=NO_DATE + 1, upper_bound=_micros(before), include_upper=False,
        )  # fmt: skip
        undated = tantivy.Query.range_query(
            self.schema, "published", tantivy.FieldType.Integer, lower_bound=NO_DATE, upper_bound=NO_DATE
        )
        doomed: list[str] = []
        for query, check in ((older, False), (undated, True)):
            n = _count(searcher, query)
            if not n:
                continue
            for _score, address in searcher.search(query, n, count=False).hits:
                art = self._stored(searcher, address)
                when = article_date(art)
                if not check or (when is not None and when < as_utc(before)):
                    doomed.append(art.id)
        if doomed:
            pruned.deleted[str(self.path)] = len(doomed)
        if not dry_run:
            for start in range(0, len(doomed), 1000):  # each batch one commit, its clusters mended
                with self._writer() as (writer, fresh):
                    self._write(writer, fresh, {}, removed=set(doomed[start : start + 1000]))
        return pruned

    def _write(
        self, writer: Any, searcher: tantivy.Searcher, batch: dict[str, Article], removed: set[str]
    ) -> None:  # fmt: skip
        """Write `batch`, drop `removed`, and mend the representative marks of every cluster
        they touch (the ones they join and the ones they leave)."""
        leaving = set(batch) | removed
        old = self._by_term(searcher, "id", leaving)
        ckeys = {_ckey(a) for a in batch.values()} | {_ckey(a) for _, a in old}
        stayers = [(address, a) for address, a in self._by_term(searcher, "ckey", ckeys) if a.id not in leaving]
        stored_reps = searcher.fast_field_values("reps", [address for address, _ in stayers]) if stayers else []
        members = [a for _, a in stayers] + list(batch.values())
        best: dict[tuple[str, ...], str] = {}
        for a in members:
            for group in _groups(a):
                if group not in best or a.id < best[group]:
                    best[group] = a.id
        for doc_id in leaving:
            writer.delete_documents_by_term("id", doc_id)
        for i, (_address, a) in enumerate(stayers):
            reps = [int(best[g] == a.id) for g in _groups(a)]
            if _bits(reps) != int(stored_reps[i] or 0):
                writer.delete_documents_by_term("id", a.id)
                writer.add_document(_document(a, reps))
        for a in batch.values():
            writer.add_document(_document(a, [int(best[g] == a.id) for g in _groups(a)]))

    # -- searching -------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        parsed, query = prepare(query)
        offset = _offset_of(query.search_after)
        if parsed.empty:
            return SearchPage.nothing(query.facets)
        searcher = self._searcher()
        matching = self._matching(parsed, query)
        by_text = ranks_by_text(parsed, query)
        ranked = self._ranked(matching, by_text) if by_text else matching
        need = offset + query.limit
        # Hits are fetched in rungs of a fixed ladder, so the pages of one search read the same
        # rows; a rung holds the page when its hits that tie at the cut can be left out.
        k = FIRST_RUNG
        while k < 2 * need + 20:
            k *= 4
        while True:
            rows, complete = self._ordered(searcher, ranked, k, by_text, exact=k < LAST_RUNG)
            picked = _collapse(rows) if query.collapse else rows
            if complete or len(picked) >= need or k >= LAST_RUNG:
                break
            k *= 4
        page_rows = picked[offset:need]
        hits = []
        for score, _pub, _idn, _chash, address in page_rows:
            art = self._stored(searcher, address)
            size = 1
            if query.collapse:
                members = tantivy.Query.boolean_query(
                    [(tantivy.Occur.Must, matching), (tantivy.Occur.Must, self._term("ckey", _ckey(art)))]
                )
                size = _count(searcher, members) or 1
            hits.append(make_hit(art, query.text, float(score) if by_text else 0.0, size))
        total, facets = self._counts(searcher, matching, query)
        cursor = None
        if len(page_rows) == query.limit and need < MAX_OFFSET:
            cursor = [OFFSET, need]
        return SearchPage(total=total, hits=hits, next_cursor=cursor, facets=facets)

    def _ordered(
        self, searcher: tantivy.Searcher, query: tantivy.Query, k: int, by_text: bool, exact: bool
    ) -> tuple[list[_Row], bool]:
        """The first hits in the contract's order (score desc, published desc, id asc), and
        whether they are all the hits. Tantivy orders by one key; when `exact`, rows that tie
        on it at the cut are left out, as others of equal key may sort before them (past the
        last rung they stay: a tie of thousands of hits keeps Tantivy's order at the cut)."""
        if by_text:
            hits = searcher.search(query, k, count=False).hits
        else:
            hits = searcher.search(query, k, count=False, order_by_field="published", order=tantivy.Order.Desc).hits
        addresses = [address for _key, address in hits]
        if not addresses:
            return [], True
        pubs = searcher.fast_field_values("published", addresses)
        idns = searcher.fast_field_values("idn", addresses)
        chashes = searcher.fast_field_values("chash", addresses)
        scores = [float(key) if by_text else 0.0 for key, _address in hits]
        rows = [
            (score, NO_DATE if pub is None else int(pub), int(idn or 0), int(chash or 0), address)
            for score, pub, idn, chash, address in zip(scores, pubs, idns, chashes, addresses, strict=True)
        ]
        rows.sort(key=lambda r: (-r[0], -r[1], r[2]))
        complete = len(hits) < k
        if not complete and exact:
            cut = rows[-1][0] if by_text else rows[-1][1]
            rows = [r for r in rows if (r[0] if by_text else r[1]) != cut]
        return rows, complete

    def _matching(self, parsed: ParsedQuery, query: SearchQuery) -> tantivy.Query:
        """Every document the search matches (text and filters), unscored but for the text."""
        occur = tantivy.Occur
        clauses: list[tuple[Any, tantivy.Query]] = []
        for alternatives in parsed.clauses:
            either = [(occur.Should, self._phrase(p)) for p in alternatives]
            clauses.append((occur.Must, either[0][1] if len(either) == 1 else tantivy.Query.boolean_query(either)))
        for phrase in parsed.excluded:
            clauses.append((occur.MustNot, self._phrase(phrase)))
        for flt in self._filters(query):
            clauses.append((occur.Must, tantivy.Query.const_score_query(flt, 0.0)))
        if not any(o == occur.Must for o, _ in clauses):
            clauses.append((occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(clauses)

    def _ranked(self, matching: tantivy.Query, by_text: bool) -> tantivy.Query:
        """The matching documents scored: text relevance plus the gentle boost of recent news."""
        recent = tantivy.Query.range_query(
            self.schema, "published", tantivy.FieldType.Integer, lower_bound=_micros(recent_since())
        )
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, matching),
                (tantivy.Occur.Should, tantivy.Query.const_score_query(recent, RECENCY_BOOST)),
            ]
        )

    def _phrase(self, phrase: Phrase) -> tantivy.Query:
        """The words in the title (boosted) or the body."""
        parts = []
        for field in ("title", "body"):
            if len(phrase) == 1:
                q = tantivy.Query.term_query(self.schema, field, phrase[0])
            else:
                q = tantivy.Query.phrase_query(self.schema, field, list(phrase))
            parts.append((tantivy.Occur.Should, tantivy.Query.boost_query(q, TITLE_BOOST) if field == "title" else q))
        return tantivy.Query.boolean_query(parts)

    def _filters(self, query: SearchQuery) -> list[tantivy.Query]:
        found = []
        if query.site:
            found.append(self._term("site", query.site))
        if query.language:
            found.append(self._term("language", query.language))
        if query.cluster:
            found.append(self._term("ckey", query.cluster))
        if query.since or query.until:
            found.append(
                tantivy.Query.range_query(
                    self.schema,
                    "published",
                    tantivy.FieldType.Integer,
                    lower_bound=_micros(query.since) if query.since else NO_DATE + 1,
                    upper_bound=_micros(query.until) if query.until else None,
                    include_upper=not query.until,
                )
            )
        return found

    def _counts(
        self, searcher: tantivy.Searcher, matching: tantivy.Query, query: SearchQuery
    ) -> tuple[int, dict[str, dict[str, int]]]:  # fmt: skip
        """The total (stories when collapsed) and the facets, in one pass over the matches."""
        if not query.collapse and not query.facets:
            return _count(searcher, matching), {}

        which = 1 if query.collapse else 0
        aggs: dict[str, Any] = {"total": {"terms": {"field": "story"}}} if query.collapse else {}
        if query.facets:
            for name, fields in FACETS.items():
                aggs[name] = {"terms": {"field": fields[which], "size": 100_000}}
        result = searcher.aggregate(matching, aggs) if aggs else {}
        if query.collapse:
            total = sum(int(b["doc_count"]) for b in result["total"]["buckets"] if int(b["key"]) == 1)
        else:
            total = _count(searcher, matching)
        facets: dict[str, dict[str, int]] = {}
        for name in FACETS if query.facets else ():
            counts: dict[str, int] = {}
            for bucket in result[name]["buckets"]:
                key = bucket["key"]
                if name == "published":
                    if int(key) < 0:
                        continue
                    key = (_EPOCH + timedelta(days=int(key))).date().isoformat()
                if key != "":
                    counts[str(key)] = int(bucket["doc_count"])
            facets[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return total, facets

    def close(self) -> None:
        with self._write_lock:
            self._release()
        with self._open_lock:
            self._index = None
            self._stamp = None


def _document(art: Article, reps: list[int]) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("id", art.id)
    doc.add_text("ckey", _ckey(art))
    doc.add_text("title", fold_text(art.title))
    doc.add_text("body", fold_text(art.body))
    doc.add_text("site", art.site)
    if art.language:
        doc.add_text("language", art.language)
    micros = _micros(art.published_at) if art.published_at else NO_DATE
    doc.add_integer("published", micros)
    if art.published_at:
        doc.add_integer("day", micros // 86_400_000_000)
    doc.add_unsigned("idn", _idn(art.id))
    doc.add_unsigned("chash", _chash(_ckey(art)))
    story, site, language, day = reps
    doc.add_unsigned("story", story)
    doc.add_text("site_rep", art.site if site else "")
    doc.add_text("lang_rep", (art.language or "") if language else "")
    doc.add_integer("day_rep", micros // 86_400_000_000 if day and art.published_at else -1)
    doc.add_unsigned("reps", _bits(reps))
    doc.add_bytes("doc", json.dumps(art.to_doc(), ensure_ascii=False).encode("utf-8"))
    return doc


def _bits(reps: list[int]) -> int:
    return sum(bit << i for i, bit in enumerate(reps))


def _count(searcher: tantivy.Searcher, query: tantivy.Query) -> int:
    found: Any = searcher.search(query, 1, count=True)  # the stubs lack SearchResult.count
    return int(found.count or 0)


def _collapse(rows: list[_Row]) -> list[_Row]:
    """Each cluster's first row, in order: its best member."""
    seen: set[int] = set()
    picked = []
    for row in rows:
        if row[3] not in seen:
            seen.add(row[3])
            picked.append(row)
    return picked


def _offset_of(cursor: list[Any] | None) -> int:
    if not cursor:
        return 0
    # This index never hands out an offset past MAX_OFFSET: a larger one was not made here, and
    # asking Tantivy for that many hits would allocate their room (terabytes) before any answer.
    if len(cursor) != 2 or cursor[0] != OFFSET or not isinstance(cursor[1], int) or not 0 <= cursor[1] <= MAX_OFFSET:
        raise ValueError(f"search cursor {str(cursor)[:80]} was not made by the embedded (Tantivy) index")
    return int(cursor[1])
