"""Bulk indexing throughput of the Elasticsearch backend, in documents per second.

    .venv/bin/python bench/es_bulk.py [--docs 20000] [--batch 200] [--body-bytes 3000]

Uses ELASTICSEARCH_URL when set (on a throwaway index, deleted afterwards), else starts a
private noida-db. Prints one line per run: documents, seconds, documents per second.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import stop_cleanly_on_sigterm  # noqa: E402
from pipeline.models import Article, article_id  # noqa: E402 - after the path is set
from pipeline.search.elastic import ElasticsearchBackend  # noqa: E402

WORDS = "chính quyền thân thiện người dân đề án thành phố kinh tế báo cáo the city council said on monday".split()  # noqa: SIM905 - a sentence reads better than a list


def articles(n: int, body_bytes: int, seed: int = 7) -> list[Article]:
    rng = random.Random(seed)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        url = f"https://bench.example/{i}"
        body = ""
        while len(body.encode()) < body_bytes:
            body += " ".join(rng.choices(WORDS, k=12)) + ". "
        out.append(
            Article(
                id=article_id(url),
                url=url,
                canonical_url=url,
                site=f"site{i % 20}.example",
                title=" ".join(rng.choices(WORDS, k=8)),
                body=body,
                language=rng.choice(["vi", "en"]),
                published_at=t0 + timedelta(minutes=i),
                cluster_id=f"c{i // 3}" if i % 5 == 0 else None,
            )
        )
    return out


def run(url: str, docs: int, batch: int, body_bytes: int) -> None:
    es = ElasticsearchBackend(url, index=f"newsflow-bench-{uuid.uuid4().hex[:8]}", batch_size=batch)
    es.ensure_ready()
    data = articles(docs, body_bytes)
    try:
        start = time.perf_counter()
        outcome = es.index(data)
        elapsed = time.perf_counter() - start
        es.refresh_now()
        assert not outcome.rejected, outcome.rejected
        assert es.count() == docs, es.count()
        print(
            f"{docs} docs of ~{body_bytes} B in batches of {batch}: {elapsed:.2f} s, "
            f"{docs / elapsed:,.0f} docs/s (one client thread)"
        )
    finally:
        es.drop()
        es.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--body-bytes", type=int, default=3000)
    args = parser.parse_args()
    url = os.environ.get("ELASTICSEARCH_URL")
    if url:
        run(url, args.docs, args.batch, args.body_bytes)
        return
    from tests.search.noida import NoidaServer  # the tests' own starter: one place knows how

    with tempfile.TemporaryDirectory() as tmp, NoidaServer(Path(tmp) / "data") as server:
        print(f"noida-db at {server.url}")
        run(server.url, args.docs, args.batch, args.body_bytes)


if __name__ == "__main__":
    stop_cleanly_on_sigterm()
    main()
