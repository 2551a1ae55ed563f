"""Bulk indexing throughput of the Elasticsearch backend, in documents per second, and its
disk per document.

    .venv/bin/python bench/es_bulk.py [--docs 20000] [--batch 200] [--body-bytes 3000] [--months 3]
        [--markdown docs/figures/es-bulk.md]

Uses ELASTICSEARCH_URL when set (on a throwaway alias, deleted afterwards), else starts a
private noida-db. The articles' publication dates spread over `--months` months, so the
writes go through the monthly indices as the pipeline's do (each batch's where-is-it search
included). Prints documents, seconds, documents per second, and the primary store of the
indices per document; `--markdown` writes them as a table with the run's provenance.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import stop_cleanly_on_sigterm  # noqa: E402
from bench.report import Provenance, markdown_table, write_fragment  # noqa: E402
from pipeline.models import Article, article_id  # noqa: E402 - after the path is set
from pipeline.search.elastic import ElasticsearchBackend  # noqa: E402

WORDS = "chính quyền thân thiện người dân đề án thành phố kinh tế báo cáo the city council said on monday".split()  # noqa: SIM905 - a sentence reads better than a list


def articles(n: int, body_bytes: int, months: int = 1, seed: int = 7) -> list[Article]:
    rng = random.Random(seed)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    step = timedelta(days=30 * months) / max(1, n)
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
                published_at=t0 + i * step,
                cluster_id=f"c{i // 3}" if i % 5 == 0 else None,
            )
        )
    return out


def run(url: str, docs: int, batch: int, body_bytes: int, months: int) -> dict[str, Any]:
    es = ElasticsearchBackend(url, index=f"newsflow-bench-{uuid.uuid4().hex[:8]}", batch_size=batch)
    es.ensure_ready()
    data = articles(docs, body_bytes, months)
    try:
        start = time.perf_counter()
        outcome = es.index(data)
        elapsed = time.perf_counter() - start
        es.refresh_now()
        assert not outcome.rejected, outcome.rejected
        assert es.count() == docs, es.count()
        store = es._client.indices.stats(index=es.alias, metric="store").body["_all"]["primaries"]["store"]
        figures = {
            "docs": docs,
            "seconds": elapsed,
            "per_second": docs / elapsed,
            "indices": len(es.live_indices()),
            "bytes_per_doc": store["size_in_bytes"] / docs,
            "text_bytes": sum(len(a.title.encode()) + len(a.body.encode()) for a in data) / docs,
        }
        print(
            f"{docs} docs of ~{body_bytes} B in batches of {batch} over {figures['indices']} monthly indices: "
            f"{elapsed:.2f} s, {figures['per_second']:,.0f} docs/s (one client thread); "
            f"primary store {figures['bytes_per_doc']:,.0f} B per doc ({figures['text_bytes']:,.0f} B of text)"
        )
        return figures
    finally:
        es.drop()
        es.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--body-bytes", type=int, default=3000)
    parser.add_argument("--months", type=int, default=3, help="months the publication dates spread over")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the figures as a Markdown table here")
    args = parser.parse_args()
    provenance = Provenance()
    url = os.environ.get("ELASTICSEARCH_URL")
    if url:
        figures, where = run(url, args.docs, args.batch, args.body_bytes, args.months), "Elasticsearch"
    else:
        from tests.search.noida import NoidaServer  # the tests' own starter: one place knows how

        with tempfile.TemporaryDirectory() as tmp, NoidaServer(Path(tmp) / "data") as server:
            print(f"noida-db at {server.url}")
            figures, where = run(server.url, args.docs, args.batch, args.body_bytes, args.months), "noida-db"
    if args.markdown:
        table = markdown_table(
            ["server", "documents", "monthly indices", "batch", "docs/s, one client thread", "primary store per doc",
             "title and body per doc"],
            [[where, f"{figures['docs']:,}", figures["indices"], args.batch, f"{figures['per_second']:,.0f}",
              f"{figures['bytes_per_doc']:,.0f} B", f"{figures['text_bytes']:,.0f} B"]],
        )  # fmt: skip
        write_fragment(args.markdown, provenance, [table])


if __name__ == "__main__":
    stop_cleanly_on_sigterm()
    main()
