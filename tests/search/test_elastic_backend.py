"""Behaviour only the Elasticsearch backend has: aliases, reindex, bulk batching and failures.

Runs against noida-db (or ELASTICSEARCH_URL). Bulk error paths a healthy cluster will not
produce on demand (413, 429, 503 per item) are served by a small local HTTP server that
speaks the bulk API.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from pipeline.errors import TransientError
from pipeline.models import Article, article_id
from pipeline.search.base import SearchQuery
from pipeline.search.elastic import ElasticsearchBackend, month_of, to_es_doc
from tests.search import noida

Make = Callable[..., ElasticsearchBackend]
T0 = datetime(2024, 6, 1, tzinfo=UTC)
ON_NOIDA = not os.environ.get("ELASTICSEARCH_URL")


def arts(n: int, prefix: str = "doc", body: str = "Tin tức thời sự hôm nay.") -> list[Article]:
    out = []
    for i in range(n):
        url = f"https://news.example/{prefix}/{i}"
        out.append(
            Article(
                id=article_id(url),
                url=url,
                canonical_url=url,
                site="news.example",
                title=f"{prefix} {i}",
                body=body,
                language="vi",
                published_at=T0 + timedelta(minutes=i),
            )
        )
    return out


def test_ensure_ready_puts_the_template_and_starts_this_months_index(make_es_backend: Make) -> None:
    es = make_es_backend()
    es.ensure_ready()
    es.ensure_ready()
    month = month_of(datetime.now(UTC))
    assert es.live_indices() == {f"{es.alias}-{month}-v1": month}
    template = es._client.indices.get_index_template(name=es.alias).body["index_templates"][0]["index_template"]
    assert template["index_patterns"] == [f"{es.alias}-1*", f"{es.alias}-2*"]
    mapping = es._client.indices.get_mapping(index=es.alias).body[f"{es.alias}-{month}-v1"]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"]["cluster_id"]["type"] == "keyword"
    assert mapping["properties"]["extraction"]["enabled"] is False


def test_reindex_rebuilds_each_month_and_keeps_every_document(make_es_backend: Make) -> None:
    es = make_es_backend(batch_size=7)
    es.ensure_ready()
    docs = arts(40)  # all of June 2024
    es.index(docs)
    seen_counts: list[int] = []
    stop = threading.Event()

    def reader() -> None:  # the alias must never point at nothing, nor at a half-built index
        while not stop.is_set():
            seen_counts.append(es.count())

    progress: list[tuple[int, int]] = []
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = es.reindex(progress=lambda done, total: progress.append((done, total)))
    finally:
        stop.set()
        thread.join()
    now = month_of(datetime.now(UTC))
    june = next(m for m in result.months if m.month == "2024.06")
    assert (june.sources, june.target) == ([f"{es.alias}-2024.06-v1"], f"{es.alias}-2024.06-v2")
    assert result.copied == 40 and not result.rejected and not result.retired
    assert set(es.live_indices()) == {f"{es.alias}-2024.06-v2", f"{es.alias}-{now}-v2"}
    assert es.count() == 40
    assert progress[-1] == (40, 40) and len(progress) == 6  # batches of 7
    assert seen_counts and set(seen_counts) == {40}
    assert es.search(SearchQuery(text="thoi su", limit=1)).total == 40
    assert sorted(a.id for a in es.iter_all()) == sorted(d.id for d in docs)
    again = es.reindex()
    assert {m.target for m in again.months} == {f"{es.alias}-2024.06-v3", f"{es.alias}-{now}-v3"}
    assert es.count() == 40


def test_writes_made_while_reindexing_reach_the_new_index(make_es_backend: Make) -> None:
    es = make_es_backend(batch_size=5)
    es.ensure_ready()
    docs = arts(20)
    es.index(docs)
    late = arts(1, prefix="late")[0]
    edited = docs[0].model_copy(update={"title": "Edited while reindexing"})

    def write_midway(done: int, total: int) -> None:
        if done == 10:  # docs[0] was copied already; both writes go to the old index
            es.index([late, edited])

    result = es.reindex(progress=write_midway)
    assert result.caught_up >= 2
    assert es.count() == 21
    got = es.get(docs[0].id)
    assert got is not None and got.title == "Edited while reindexing"
    assert es.get(late.id) == late


def test_a_document_the_mapping_refuses_is_rejected_alone(make_es_backend: Make) -> None:
    es = make_es_backend()
    es.ensure_ready()
    good = arts(3)
    bad = to_es_doc(arts(1, prefix="bad")[0]) | {"not_in_mapping": "x"}
    bad_date = to_es_doc(arts(1, prefix="bad-date")[0]) | {"published_at": "yesterday-ish"}
    docs = [to_es_doc(good[0]), bad, to_es_doc(good[1]), bad_date, to_es_doc(good[2])]
    outcome = es.index_docs(docs)
    assert outcome.indexed == [a.id for a in good]
    assert set(outcome.rejected) == {bad["id"], bad_date["id"]}
    assert "strict_dynamic_mapping" in outcome.rejected[bad["id"]]
    assert "published_at" in outcome.rejected[bad_date["id"]]
    assert es.count() == 3


def test_text_is_indexed_in_nfc() -> None:
    decomposed = arts(1, body="Thu\u0309 tu\u031bo\u031b\u0301ng")[0]
    assert to_es_doc(decomposed)["body"] == "Thủ tướng"


def test_an_unreachable_cluster_raises_transient_error_without_secrets() -> None:
    port = noida.free_port()  # nothing listens there
    with_password = ElasticsearchBackend(f"http://admin:url-secret@127.0.0.1:{port}", request_timeout=2)
    with_key = ElasticsearchBackend(f"http://127.0.0.1:{port}", api_key=SecretStr("key-secret-123"), request_timeout=2)
    calls: list[Callable[[ElasticsearchBackend], object]] = [
        lambda es: es.ensure_ready(),
        lambda es: es.count(),
        lambda es: es.index(arts(2)),
        lambda es: es.search(SearchQuery(text="x")),
    ]
    for es in (with_password, with_key):
        for call in calls:
            with pytest.raises(TransientError) as info:
                call(es)
            message = str(info.value)
            assert "unreachable" in message and f"127.0.0.1:{port}" in message
            assert "url-secret" not in message and "key-secret-123" not in message
        assert "secret" not in repr(es)
        es.close()


def test_server_stopped_and_restarted_during_indexing_loses_nothing(tmp_path: Path, make_es_backend: Make) -> None:
    """The caller's retry (a Celery task's) re-sends a batch that raised; nothing acked is lost."""
    if not ON_NOIDA:
        pytest.skip("needs a private server to stop; ELASTICSEARCH_URL points at a shared cluster")
    server = noida.NoidaServer(tmp_path / "es-data").start()
    try:
        es = make_es_backend(server.url, batch_size=10, max_retries=1, request_timeout=5)
        es.ensure_ready()
        batches = [arts(25, prefix=f"b{i}") for i in range(6)]
        failures = 0
        for i, batch in enumerate(batches):
            if i == 3:
                server.stop()  # SIGTERM mid-run: in-flight requests see a closed socket
            while True:
                try:
                    outcome = es.index(batch)
                    assert not outcome.rejected
                    break
                except TransientError:
                    failures += 1
                    assert failures < 5
                    server.start()  # same data dir and port
        assert failures >= 1
        assert es.count() == 150
        assert all(es.get(a.id) is not None for b in batches for a in b)
    finally:
        server.stop()


def test_server_killed_during_indexing_loses_nothing_acknowledged(tmp_path: Path, make_es_backend: Make) -> None:
    if not ON_NOIDA:
        pytest.skip("needs a private server to kill; ELASTICSEARCH_URL points at a shared cluster")
    server = noida.NoidaServer(tmp_path / "es-data").start()
    try:
        es = make_es_backend(server.url, batch_size=10, max_retries=1, request_timeout=5)
        es.ensure_ready()
        first, second = arts(30, prefix="first"), arts(30, prefix="second")
        es.index(first)
        server.kill()
        with pytest.raises(TransientError):
            es.index(second)
        server.start()
        if not es._client.indices.exists_alias(name=es.alias):
            pytest.skip(
                "noida-db lost the whole index on SIGKILL: it keeps data in memory and snapshots it only every few "
                "seconds and on SIGTERM; Elasticsearch fsyncs its translog per request and keeps acknowledged writes"
            )
        es.index(second)  # the caller's retry
        if es.count() < 60:
            pytest.skip(
                "noida-db keeps data in memory and snapshots it every few seconds and on SIGTERM, so SIGKILL "
                "loses acknowledged writes; Elasticsearch fsyncs its translog per request and keeps them"
            )
        assert es.count() == 60
    finally:
        server.stop()


# -- bulk error paths, against a local server speaking the bulk API ----------------------------


class FakeBulk:
    """Answers `_bulk` like Elasticsearch, with scripted trouble."""

    def __init__(self) -> None:
        self.max_body = 10**9  # larger requests get HTTP 413
        self.busy: dict[str, int] = {}  # id -> how many more times to answer 429 for it
        self.refused: set[str] = set()  # ids answered 400 mapper_parsing_exception
        self.whole_503 = 0  # how many bulk requests to refuse outright with 503
        self.requests: list[tuple[int, int]] = []  # (bytes, documents) of each accepted request
        self.stored: dict[str, dict[str, Any]] = {}

    def handle(self, body: bytes) -> tuple[int, dict[str, Any]]:
        if len(body) > self.max_body:
            return 413, {"error": "request entity too large"}
        if self.whole_503:
            self.whole_503 -= 1
            return 503, {"error": {"type": "unavailable_shards_exception", "reason": "busy"}, "status": 503}
        lines = body.decode().splitlines()
        items = []
        for action_line, source_line in zip(lines[::2], lines[1::2], strict=True):
            doc_id = json.loads(action_line)["index"]["_id"]
            if self.busy.get(doc_id, 0) > 0:
                self.busy[doc_id] -= 1
                err = {"type": "es_rejected_execution_exception", "reason": "queue full"}
                items.append({"index": {"_id": doc_id, "status": 429, "error": err}})
            elif doc_id in self.refused:
                err = {"type": "mapper_parsing_exception", "reason": "failed to parse field [x]"}
                items.append({"index": {"_id": doc_id, "status": 400, "error": err}})
            else:
                self.stored[doc_id] = json.loads(source_line)
                items.append({"index": {"_id": doc_id, "status": 201, "result": "created"}})
        self.requests.append((len(body), len(lines) // 2))
        return 200, {"took": 1, "errors": any(i["index"]["status"] >= 300 for i in items), "items": items}


@pytest.fixture
def fake_bulk() -> Iterator[tuple[FakeBulk, str]]:
    fake = FakeBulk()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # the client sends _bulk as PUT
            self.do_POST()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if "/_search" in self.path:  # where the documents are stored now: nowhere yet
                status, payload = 200, {"hits": {"hits": []}}
            else:
                status, payload = fake.handle(body) if self.path.startswith("/_bulk") else (404, {})
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("x-elastic-product", "Elasticsearch")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def fake_backend(url: str, **kwargs: Any) -> ElasticsearchBackend:
    kwargs.setdefault("sleep", lambda s: None)
    return ElasticsearchBackend(url, index="fake", **kwargs)


def test_bulk_batches_are_bounded_by_count_and_bytes(fake_bulk: tuple[FakeBulk, str]) -> None:
    fake, url = fake_bulk
    docs = arts(30, body="x" * 2000)
    outcome = fake_backend(url, batch_size=8, batch_bytes=7000).index(docs)
    assert outcome.indexed == [a.id for a in docs]
    assert all(size <= 7000 and n <= 8 for size, n in fake.requests)
    assert [n for _, n in fake.requests] == [2] * 15  # ~2.5 kB each: a third would pass 7000 bytes
    fake.requests.clear()
    fake_backend(url, batch_size=8, batch_bytes=10**6).index(arts(20, prefix="small"))
    assert [n for _, n in fake.requests] == [8, 8, 4]


def test_http_413_splits_the_batch_until_it_fits(fake_bulk: tuple[FakeBulk, str]) -> None:
    fake, url = fake_bulk
    fake.max_body = 5000
    docs = arts(8, body="y" * 1000)
    huge = arts(1, prefix="huge", body="z" * 6000)[0]
    outcome = fake_backend(url).index([*docs, huge])
    assert outcome.indexed == [a.id for a in docs]
    assert list(outcome.rejected) == [huge.id] and "413" in outcome.rejected[huge.id]
    assert set(fake.stored) == {a.id for a in docs}


def test_busy_items_are_retried_and_refused_items_rejected(fake_bulk: tuple[FakeBulk, str]) -> None:
    fake, url = fake_bulk
    docs = arts(6)
    fake.busy = {docs[1].id: 2, docs[4].id: 1}
    fake.refused = {docs[2].id}
    fake.whole_503 = 1
    outcome = fake_backend(url, max_retries=3).index(docs)
    assert sorted(outcome.indexed) == sorted(a.id for a in docs if a.id != docs[2].id)
    assert list(outcome.rejected) == [docs[2].id]
    assert "mapper_parsing_exception" in outcome.rejected[docs[2].id]
    assert [n for _, n in fake.requests] == [6, 2, 1]  # the whole batch, then only the busy ones


def test_items_still_busy_after_the_retries_raise_transient_error(fake_bulk: tuple[FakeBulk, str]) -> None:
    fake, url = fake_bulk
    docs = arts(3)
    fake.busy = {docs[0].id: 99}
    with pytest.raises(TransientError, match="1 documents still refused after 3 attempts"):
        fake_backend(url, max_retries=2).index(docs)
    assert set(fake.stored) == {docs[1].id, docs[2].id}
