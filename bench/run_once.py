"""Articles per second of `newsflow run --once` on the golden corpus served from 127.0.0.1.

Serves each corpus site from its own local port with a generated RSS feed listing its
pages, runs the real command (embedded Redis, real workers) in a fresh data directory and
prints the summary with the rate. Politeness delay is off: this measures the pipeline.

    .venv/bin/python bench/run_once.py [--copies N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from demo.server import SiteServer

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1, help="serve each page under N URLs (?copy=i)")
    args = parser.parse_args()
    manifest = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
    work = Path(tempfile.mkdtemp(prefix="newsflow-bench-"))
    try:
        with ExitStack() as stack:
            feeds = []
            for site in sorted({m["site"] for m in manifest}):
                server = stack.enter_context(SiteServer(CORPUS))
                items = "".join(
                    f"<item><link>{server.base}/{m['path']}?copy={i}</link></item>"
                    for m in manifest
                    if m["site"] == site
                    for i in range(args.copies)
                )
                feed_dir = work / "feeds"
                feed_dir.mkdir(exist_ok=True)
                (CORPUS / f".bench-{site}.xml").write_text(
                    f'<rss version="2.0"><channel><title>{site}</title>{items}</channel></rss>', encoding="utf-8"
                )
                stack.callback((CORPUS / f".bench-{site}.xml").unlink, missing_ok=True)
                feeds.append(f"  - url: {server.base}/.bench-{site}.xml\n    site: {site}\n")
            feeds_file = work / "feeds.yaml"
            feeds_file.write_text("feeds:\n" + "".join(feeds), encoding="utf-8")
            env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL"}}
            env.update(
                NEWSFLOW_DATA_DIR=str(work / "data"),
                NEWSFLOW_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32",
                NEWSFLOW_HOST_DELAY="0",
                NEWSFLOW_OBEY_ROBOTS="false",
            )
            started = time.perf_counter()
            run = subprocess.run(
                [sys.executable, "-m", "workers.cli", "run", "--feeds", str(feeds_file), "--once"],
                env=env,
                capture_output=True,
                text=True,
            )
            elapsed = time.perf_counter() - started
        print(run.stdout, end="")
        if run.returncode:
            print(run.stderr, file=sys.stderr)
            return run.returncode
        pages = len(manifest) * args.copies
        print(
            f"{pages} feed entries in {elapsed:.1f} s wall clock (worker start-up included): "
            f"{pages / elapsed:.1f} entries/s on {os.cpu_count()} cores"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
