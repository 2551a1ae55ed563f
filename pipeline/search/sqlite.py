"""SQLite FTS5 search backend: the embedded default, one file under the data directory.

Documents live in a plain table; an FTS5 table indexes their accent-folded title and body,
so a query typed without diacritics finds text written with them. Snippets are cut from the
original text in Python (`pipeline.search.highlight`), identically for every backend.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.models import Article, as_utc
from pipeline.search.base import IndexOutcome, SearchHit, SearchPage, SearchQuery, fold_text
from pipeline.search.highlight import make_snippet

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    site TEXT NOT NULL,
    language TEXT,
    published_at TEXT,
    cluster_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published_at);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5 (
    title, body, tokenize = "unicode61 remove_diacritics 2"
);
"""

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str:
    """Turn user text into an FTS5 query: every word required, each as a quoted prefix-free term."""
    words = _WORD.findall(fold_text(text))
    return " ".join(f'"{w}"' for w in words)


class SqliteBackend:
    """Embedded search over one SQLite file; safe to share between threads of one process."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Any) -> SqliteBackend:
        return cls(settings.sqlite_path)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            self._local.conn = conn
        return conn

    def ensure_ready(self) -> None:
        self._conn()

    def index(self, articles: Iterable[Article]) -> IndexOutcome:
        outcome = IndexOutcome()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for art in articles:
                doc = json.dumps(art.to_doc(), ensure_ascii=False)
                published = art.published_at.isoformat() if art.published_at else None
                row = conn.execute("SELECT rowid FROM articles WHERE id = ?", (art.id,)).fetchone()
                if row:
                    conn.execute(
                        "UPDATE articles SET site=?, language=?, published_at=?, cluster_id=?, doc=? WHERE rowid=?",
                        (art.site, art.language, published, art.cluster_id, doc, row[0]),
                    )
                    conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (row[0],))
                    rowid = row[0]
                else:
                    cur = conn.execute(
                        "INSERT INTO articles (id, site, language, published_at, cluster_id, doc) VALUES (?,?,?,?,?,?)",
                        (art.id, art.site, art.language, published, art.cluster_id, doc),
                    )
                    rowid = cur.lastrowid
                conn.execute(
                    "INSERT INTO articles_fts (rowid, title, body) VALUES (?,?,?)",
                    (rowid, fold_text(art.title), fold_text(art.body)),
                )
                outcome.indexed.append(art.id)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return outcome

    def get(self, doc_id: str) -> Article | None:
        row = self._conn().execute("SELECT doc FROM articles WHERE id = ?", (doc_id,)).fetchone()
        return Article.from_doc(json.loads(row[0])) if row else None

    def delete(self, doc_id: str) -> bool:
        conn = self._conn()
        row = conn.execute("SELECT rowid FROM articles WHERE id = ?", (doc_id,)).fetchone()
        if not row:
            return False
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (row[0],))
        conn.execute("DELETE FROM articles WHERE rowid = ?", (row[0],))
        conn.execute("COMMIT")
        return True

    def count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM articles").fetchone()[0])

    def iter_all(self) -> Iterator[Article]:
        last = ""
        conn = self._conn()
        while True:
            rows = conn.execute("SELECT id, doc FROM articles WHERE id > ? ORDER BY id LIMIT 500", (last,)).fetchall()
            if not rows:
                return
            for _doc_id, doc in rows:
                yield Article.from_doc(json.loads(doc))
            last = rows[-1][0]

    def search(self, query: SearchQuery) -> SearchPage:
        where, params = self._filters(query)
        match = fts_query(query.text)
        if match:
            # bm25 is lower-is-better; negate so every backend sorts score descending.
            base = (
                "SELECT a.rowid, a.id, a.cluster_id, a.published_at, -bm25(articles_fts, 3.0, 1.0) AS score, a.doc "
                "FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid "
                "WHERE articles_fts MATCH ?"
            )
            params = [match, *params]
        else:
            base = "SELECT a.rowid, a.id, a.cluster_id, a.published_at, 0.0 AS score, a.doc FROM articles a WHERE 1=1"
        base += "".join(f" AND {w}" for w in where)
        # Sort key shared with the cursor: score desc, published desc, id asc.
        ranked = (
            f"SELECT *, ROW_NUMBER() OVER (PARTITION BY COALESCE(cluster_id, id) "
            f"ORDER BY score DESC, COALESCE(published_at, '') DESC, id) AS pos, "
            f"COUNT(*) OVER (PARTITION BY COALESCE(cluster_id, id)) AS csize FROM ({base})"
        )
        outer = f"SELECT id, score, published_at, doc, csize FROM ({ranked})"
        outer_where = ["pos = 1"] if query.collapse else []
        outer_params: list[Any] = []
        if query.search_after:
            s_score, s_pub, s_id = query.search_after
            outer_where.append(
                "(score < ? OR (score = ? AND (COALESCE(published_at,'') < ? "
                "OR (COALESCE(published_at,'') = ? AND id > ?))))"
            )
            outer_params += [s_score, s_score, s_pub, s_pub, s_id]
        if outer_where:
            outer += " WHERE " + " AND ".join(outer_where)
        conn = self._conn()
        total_sql = f"SELECT count(*) FROM ({ranked})" + (" WHERE pos = 1" if query.collapse else "")
        total = int(conn.execute(total_sql, params).fetchone()[0])
        outer += " ORDER BY score DESC, COALESCE(published_at,'') DESC, id LIMIT ?"
        rows = conn.execute(outer, [*params, *outer_params, query.limit]).fetchall()
        hits = []
        for doc_id, score, _published, doc, csize in rows:
            art = Article.from_doc(json.loads(doc))
            hits.append(
                SearchHit(
                    id=doc_id,
                    url=art.url,
                    title=art.title,
                    site=art.site,
                    language=art.language,
                    published_at=art.published_at.isoformat() if art.published_at else None,
                    snippet=make_snippet(art.body, query.text),
                    score=float(score),
                    cluster_id=art.cluster_id,
                    cluster_size=int(csize) if query.collapse else 1,
                )
            )
        cursor = None
        if len(rows) == query.limit:
            last = rows[-1]
            cursor = [last[1], last[2] or "", last[0]]
        page = SearchPage(total=total, hits=hits, next_cursor=cursor)
        if query.facets:
            page.facets = self._facets(base, params, query.collapse)
        return page

    def _filters(self, query: SearchQuery) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if query.site:
            where.append("a.site = ?")
            params.append(query.site)
        if query.language:
            where.append("a.language = ?")
            params.append(query.language)
        if query.since:
            where.append("a.published_at >= ?")
            params.append(_iso(query.since))
        if query.until:
            where.append("a.published_at < ?")
            params.append(_iso(query.until))
        if query.cluster:
            where.append("COALESCE(a.cluster_id, a.id) = ?")
            params.append(query.cluster)
        return where, params

    def _facets(self, base: str, params: list[Any], collapse: bool) -> dict[str, dict[str, int]]:
        """Counts of the matching documents by site, language and day. Collapsed, a story (a
        cluster) counts once under each value its matching copies have, as Elasticsearch's
        per-bucket cardinality does: a story two sites carried counts for both."""
        conn = self._conn()
        counted = "count(DISTINCT COALESCE(d.cluster_id, d.id))" if collapse else "count(*)"
        facets: dict[str, dict[str, int]] = {}
        for name, expr in (
            ("site", "d.site"),
            ("language", "d.language"),
            ("published", "substr(d.published_at, 1, 10)"),
        ):
            rows = conn.execute(
                f"SELECT {expr} AS k, {counted} FROM ({base}) m JOIN articles d ON d.rowid = m.rowid "
                f"WHERE {expr} IS NOT NULL GROUP BY k ORDER BY 2 DESC, 1",
                params,
            ).fetchall()
            facets[name] = {str(k): int(n) for k, n in rows}
        return facets

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _iso(value: datetime) -> str:
    return as_utc(value).isoformat()
