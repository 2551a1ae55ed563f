"""Search latency through the HTTP API, p50/p95 by kind of query, backends side by side.

    .venv/bin/python bench/api_latency.py [--articles 100000 1000000] [--requests 1600]
                                          [--backend tantivy sqlite elasticsearch] [--kinds TEXT]

For each size, indexes the same synthetic articles (Zipf-distributed words, 40 sites, four
languages, a year of days, one in ten a copy of an earlier story) into every backend named
(default: the embedded ones, Tantivy and SQLite), in bulk batches of 1000, timing only the
backends' `index` calls; then, backend by backend, starts the real API (uvicorn) on
127.0.0.1 and sends its searches one at a time over one keep-alive connection, as the search
page does (facets included). Prints per backend the indexing rate and the index's size on
disk, then p50/p95 per kind of query and overall, the backends in columns, with the load
average of the machine before and after. Elasticsearch is ELASTICSEARCH_URL when set (a
throwaway index, deleted after), else a private noida-db. A kind stops after --budget
seconds, or at its first failed or timed-out search (noida-db, a stand-in, answers a text
query by reading every document: minutes at this size). `--kinds browse` times only the
kinds whose name holds the text: searches abandoned after a timeout keep a slow server busy,
and would slow every kind timed after them.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402 - after the path is set

from bench import stop_cleanly_on_sigterm  # noqa: E402
from pipeline.models import Article, article_id  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from workers.api import make_server  # noqa: E402
from workers.runtime import Runtime  # noqa: E402

SITES = [f"site{i:02d}.example" for i in range(40)]
LANGUAGES = ["vi", "en", "fr", "es"]
DAY0 = datetime(2025, 1, 1, tzinfo=UTC)
SYLLABLES = [c + v for c in "bcdghlmnprstv" for v in "aeiou"]


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))))
    ordered = sorted(words)  # a set's order changes between runs (string hashing is salted)
    rng.shuffle(ordered)
    return ordered


def synthetic_articles(n: int, words: list[str], rng: random.Random, body_words: int) -> Iterator[list[Article]]:
    """Batches of 1000 articles; word ranks follow Zipf's law, as in real text."""
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    cumulative = list(_accumulate(weights))
    stories: list[tuple[str, str, str]] = []  # (id, title, body) of earlier originals
    batch: list[Article] = []
    for i in range(n):
        site = SITES[int(rng.paretovariate(1.2)) % len(SITES)]
        url = f"https://{site}/news/{i}.html"
        doc_id = article_id(url)
        if stories and rng.random() < 0.1:  # another site republishes an earlier story
            cluster, title, body = rng.choice(stories[-500:])
        else:
            title = " ".join(rng.choices(words, cum_weights=cumulative, k=8)).capitalize()
            body = " ".join(rng.choices(words, cum_weights=cumulative, k=body_words)) + "."
            cluster = doc_id
            stories.append((doc_id, title, body))
        batch.append(
            Article(
                id=doc_id,
                url=url,
                canonical_url=url,
                site=site,
                title=title,
                body=body,
                language=rng.choice(LANGUAGES),
                published_at=DAY0 + timedelta(seconds=rng.randrange(365 * 86400)),
                cluster_id=cluster,
                duplicate_of=None if cluster == doc_id else cluster,
            )
        )
        if len(batch) == 1000:
            yield batch
            batch = []
    if batch:
        yield batch


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def queries(words: list[str], rng: random.Random, count: int, only: str = "") -> list[tuple[str, dict[str, str]]]:
    """(kind, parameters) of the searches to time, the kinds whose name holds `only` in turn."""

    def word(lo: int, hi: int) -> str:
        return words[rng.randrange(lo, hi)]

    kinds = [
        ("common word", lambda: {"q": word(5, 50)}),
        ("mid word", lambda: {"q": word(200, 2000)}),
        ("rare word", lambda: {"q": word(5000, 20000)}),
        ("two words", lambda: {"q": f"{word(20, 300)} {word(20, 300)}"}),
        ("word + site", lambda: {"q": word(20, 500), "site": rng.choice(SITES[:10])}),
        ("word + lang + since", lambda: {"q": word(20, 500), "language": rng.choice(LANGUAGES), "since": "2025-07-01"}),
        ("browse (no words)", lambda: {}),
        ("browse one day", lambda: {"since": "2025-03-10", "until": "2025-03-11"}),
    ]  # fmt: skip
    kinds = [kind for kind in kinds if only in kind[0]]
    if not kinds:
        raise SystemExit(f"--kinds {only!r}: no kind of query is named so")
    return [(kinds[i % len(kinds)][0], kinds[i % len(kinds)][1]()) for i in range(count)]


class Api:
    """The real API (uvicorn) over `rt`, in a thread, on a free port of 127.0.0.1."""

    def __init__(self, rt: Runtime) -> None:
        # A TCP socket by name: asyncio sets TCP_NODELAY only on those, and without it every
        # answer waits ~40 ms for a delayed ACK (uvicorn writes head and body apart).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = make_server(rt, "127.0.0.1", self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Api:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Timings:
    """Latencies of one backend's searches, by kind, and why a kind stopped."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[float]] = {}
        self.failed: dict[str, str] = {}

    def cell(self, kind: str) -> str:
        values = self.by_kind.get(kind) or []
        if kind == "all":
            values = [v for vs in self.by_kind.values() for v in vs]
        if not values:
            return f"{'stopped' if kind in self.failed else '-':>17}"
        return f"{1000 * statistics.median(values):8.1f} {1000 * percentile(values, 0.95):8.1f}"


def time_searches(name: str, rt: Runtime, plan: list[tuple[str, dict[str, str]]], args: argparse.Namespace) -> Timings:
    out = Timings()
    out.by_kind = {kind: [] for kind, _ in plan}
    spent: dict[str, float] = dict.fromkeys(out.by_kind, 0.0)
    with Api(rt) as api, httpx.Client(base_url=api.base, timeout=args.timeout) as client:
        for _, params in plan[:8]:  # warm-up (browsing only: it is cheap on every backend)
            if not params.get("q"):
                client.get("/api/search", params=params)
        for kind, params in plan:
            if kind in out.failed or spent[kind] > args.budget:
                continue
            t = time.perf_counter()
            try:
                resp = client.get("/api/search", params=params)
                problem = None if resp.status_code == 200 else f"HTTP {resp.status_code}: {resp.json().get('error')}"
            except httpx.TimeoutException:
                problem = f"no answer within {args.timeout:.0f} s"
            elapsed = time.perf_counter() - t
            spent[kind] += elapsed
            if problem:
                out.failed[kind] = problem
                print(f"{name}: {kind} stopped: {problem}", flush=True)
            else:
                out.by_kind[kind].append(elapsed)
    return out


@contextmanager
def embedded(backend: str) -> Iterator[tuple[Runtime, Callable[[], int]]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), elasticsearch_url=None, search_backend=backend)
        rt = Runtime(settings)
        path = settings.tantivy_path if backend == "tantivy" else settings.sqlite_path
        try:
            yield rt, lambda: disk_bytes(path) + (disk_bytes(Path(f"{path}-wal")) if path.suffix == ".sqlite3" else 0)
        finally:
            rt.close()


@contextmanager
def elasticsearch() -> Iterator[tuple[Runtime, Callable[[], int]]]:
    def on(url: str, tmp: str) -> Iterator[tuple[Runtime, Callable[[], int]]]:
        index = f"newsflow-bench-{uuid.uuid4().hex[:8]}"
        rt = Runtime(
            Settings(data_dir=Path(tmp), elasticsearch_url=url, elasticsearch_index=index, index_batch_size=1000)
        )
        try:
            yield rt, lambda: 0  # the cluster's disk is not ours to measure
        finally:
            rt.search.drop()  # type: ignore[attr-defined]
            rt.close()

    with tempfile.TemporaryDirectory() as tmp:
        if os.environ.get("ELASTICSEARCH_URL"):
            yield from on(os.environ["ELASTICSEARCH_URL"], tmp)
            return
        from tests.search.noida import NoidaServer  # the tests' own starter: one place knows how

        with NoidaServer(Path(tmp) / "noida") as server:
            print(f"elasticsearch: noida-db at {server.url}", flush=True)
            yield from on(server.url, tmp)


def run_size(n_articles: int, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    words = vocabulary(rng)
    with ExitStack() as stack:
        backends: dict[str, tuple[Runtime, Callable[[], int]]] = {}
        for name in args.backend:
            opened = elasticsearch() if name == "elasticsearch" else embedded(name)
            backends[name] = stack.enter_context(opened)
        took = dict.fromkeys(backends, 0.0)
        print(f"{n_articles:,} articles: indexing (load average {load()})", flush=True)
        for batch in synthetic_articles(n_articles, words, rng, args.body_words):
            for name, (rt, _size) in backends.items():
                t = time.perf_counter()
                outcome = rt.search.index(batch)
                took[name] += time.perf_counter() - t
                if outcome.rejected:
                    raise SystemExit(
                        f"{name}: {len(outcome.rejected)} refused: {next(iter(outcome.rejected.values()))}"
                    )
        for name, (rt, size) in backends.items():
            refresh = getattr(rt.search, "refresh_now", None)
            if refresh:
                refresh()
            mb = size() / 1e6
            print(
                f"{name}: indexed {rt.search.count():,} articles in {took[name]:.0f} s"
                f" ({n_articles / took[name]:,.0f}/s), {mb:,.0f} MB on disk",
                flush=True,
            )
        plan = queries(words, random.Random(args.seed + 1), args.requests, args.kinds)
        results = {}
        for name, (rt, _size) in backends.items():
            print(f"{name}: searching (load average {load()})", flush=True)
            results[name] = time_searches(name, rt, plan, args)
    print(f"\n{n_articles:,} articles, p50 / p95 ms through the API (load average {load()})")
    print(f"{'query':<24}" + "".join(f" {name:>17}" for name in results))
    for kind in [*dict.fromkeys(k for k, _ in plan), "all"]:
        print(f"{kind:<24}" + "".join(f" {t.cell(kind)}" for t in results.values()), flush=True)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[100_000])
    # 200 per kind of query: a p95 over 50 searches is their third slowest, one hiccup of the machine.
    parser.add_argument("--requests", type=int, default=1600, help="timed searches per backend")
    parser.add_argument("--body-words", type=int, default=250, help="words per article body")
    parser.add_argument(
        "--backend", nargs="+", choices=["tantivy", "sqlite", "elasticsearch"], default=["tantivy", "sqlite"]
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--kinds", default="", help="only the kinds of query whose name holds this text (browse, word)")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds one search may take before its kind stops"
    )
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of searching per kind of query at most")
    args = parser.parse_args()
    queries([], random.Random(0), 0, args.kinds)  # a --kinds that names nothing fails before the indexing
    for n in args.articles:
        run_size(n, args)


if __name__ == "__main__":
    stop_cleanly_on_sigterm()
    main()
