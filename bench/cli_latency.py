"""Wall time of the read commands (`newsflow search`, `export`, `status`) next to `python -c pass`.

Builds a data directory whose index (the default backend, or the one NEWSFLOW_SEARCH_BACKEND
names) holds the golden corpus's articles (a few dozen), then runs each command as an operator
would, in a subprocess, several times, and prints the median and the fastest run of each, all
measured in the same run on the same machine.
`status` is timed twice: starting the embedded Redis itself, and with a server already
running for the data directory (as while `newsflow run` or `serve` is up).

    .venv/bin/python bench/cli_latency.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.models import Article, article_id  # noqa: E402
from pipeline.search import backend_name, open_backend  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from workers.embedded import EmbeddedRedis  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"


def build_index(data_dir: Path) -> int:
    """Index every corpus article's expected text; returns how many."""
    settings = Settings(data_dir=data_dir)
    print(f"index: {backend_name(settings)}")
    backend = open_backend(settings)
    articles = []
    for text in sorted(CORPUS.glob("*/*.txt")):
        url = f"https://{text.parent.name}.example/{text.stem}.html"
        body = text.read_text(encoding="utf-8")
        title = body.split("\n", 1)[0][:120]
        articles.append(
            Article(id=article_id(url), url=url, canonical_url=url, site=text.parent.name, title=title, body=body)
        )
    backend.index(articles)
    backend.close()
    return len(articles)


def timed(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (default 7)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="newsflow-cli-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL"}}
    env["NEWSFLOW_DATA_DIR"] = str(data_dir)
    newsflow = [sys.executable, "-m", "workers.cli"]
    try:
        count = build_index(data_dir)
        rows = [
            ("python -c pass", timed([sys.executable, "-c", "pass"], env, args.runs)),
            ("newsflow search", timed([*newsflow, "search", "lu quet"], env, args.runs)),
            ("newsflow export", timed([*newsflow, "export"], env, args.runs)),
            ("newsflow status (starts Redis)", timed([*newsflow, "status"], env, args.runs)),
        ]
        with EmbeddedRedis(data_dir):
            rows.append(("newsflow status (Redis running)", timed([*newsflow, "status"], env, args.runs)))
        print(f"{count} articles in the index; {args.runs} runs each; {os.cpu_count()} cores")
        print(f"{'command':<34} {'median s':>9} {'fastest s':>10}")
        for name, times in rows:
            print(f"{name:<34} {statistics.median(times):>9.3f} {min(times):>10.3f}")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
