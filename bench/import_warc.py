"""Articles per second of `newsflow import` of a WARC, beside `newsflow run --once` on the same pages.

    .venv/bin/python bench/import_warc.py [--sets scrapinghub,trafilatura-eval] [--limit N]

Reads the development sets' pages from ../shared/benchmarks/ (never copied here) and serves
them on 127.0.0.1, each of the pages' sites on a port of its own (so each is a site of its own
to the boilerplate statistics, as on the web), listed by a few RSS feeds. Then, each in a
fresh data directory (embedded Redis, SQLite, the workers the command starts):

1. `run --once` polls the feeds, fetches every page over loopback and cleans and indexes it;
2. the same pages, under the same URLs, are written to a WARC.gz with warcio, and `import`
   cleans and indexes them (no fetching);
3. `import` of the same file again (it must add nothing).

It prints each command's wall time (worker start-up included) and articles per second, and
compares the two indexes: the same ids, and how many bodies are the same.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import stop_cleanly_on_sigterm  # noqa: E402 - after the path is set
from pipeline.urls import site_of  # noqa: E402

BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
FEEDS = 8  # feeds listing the pages between them, polled at once


@dataclass
class Page:
    key: str  # set/id
    site: str  # the page's own site on the web
    html: bytes
    url: str = ""  # where it is served on 127.0.0.1


def load_pages(sets: list[str], limit: int | None) -> list[Page]:
    pages = []
    for name in sets:
        folder = BENCHMARKS / name
        with gzip.open(folder / "ground-truth.json.gz", "rt", encoding="utf-8") as fh:
            truth = json.load(fh)
        for key in sorted(truth):
            url = truth[key].get("url") or f"https://{name}.example/{key}"
            html = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
            pages.append(Page(f"{name}/{key}", site_of(url) or name, html))
    return pages[:limit] if limit else pages


class LoopbackSites:
    """Every site on a 127.0.0.1 port of its own, served by one asyncio loop in a thread; the
    feeds on one more port."""

    def __init__(self, pages: list[Page]) -> None:
        self.pages = pages
        self.routes: dict[tuple[int, str], tuple[bytes, str]] = {}
        self.loop = asyncio.new_event_loop()
        self.servers: list[asyncio.AbstractServer] = []
        self.feed_base = ""

    def __enter__(self) -> LoopbackSites:
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(120)
        return self

    async def _listen(self) -> int:
        server = await asyncio.start_server(self._answer, "127.0.0.1", 0, backlog=64)
        self.servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def _start(self) -> None:
        by_site: dict[str, list[Page]] = defaultdict(list)
        for page in self.pages:
            by_site[page.site].append(page)
        for site_pages in by_site.values():
            port = await self._listen()
            for page in site_pages:
                path = "/" + page.key.replace("/", "-") + ".html"
                page.url = f"http://127.0.0.1:{port}{path}"
                # No charset: the page's own <meta charset> (or detection) speaks, as in the WARC.
                self.routes[(port, path)] = (page.html, "text/html")
        feed_port = await self._listen()
        self.feed_base = f"http://127.0.0.1:{feed_port}"
        for n in range(FEEDS):
            items = "".join(f"<item><link>{p.url}</link></item>" for p in self.pages[n::FEEDS])
            rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>f{n}</title>{items}</channel></rss>'
            self.routes[(feed_port, f"/feed{n}.xml")] = (rss.encode(), "application/rss+xml")

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = int(writer.get_extra_info("sockname")[1])
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode("latin-1").split("?", 1)[0]
                body, ctype = self.routes.get((port, path), (b"not here", "text/plain"))
                status = "200 OK" if (port, path) in self.routes else "404 Not Found"
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


def write_archive(pages: list[Page], path: Path) -> None:
    """The pages under their loopback URLs, fetched now, as `export --warc` writes pages."""
    from pipeline.warc import ArchivedPage, write_warc

    now = datetime.now(UTC)
    with path.open("wb") as out:
        write_warc(out, (ArchivedPage(p.url, now, p.html) for p in pages), filename=path.name)


def newsflow(args: list[str], data: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL"}}
    env.update(
        NEWSFLOW_DATA_DIR=str(data),
        NEWSFLOW_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32",
        NEWSFLOW_HOST_DELAY="0",
        NEWSFLOW_OBEY_ROBOTS="false",
    )
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "workers.cli", *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode:
        raise SystemExit(f"newsflow {' '.join(args)} exited {run.returncode}:\n{run.stderr[-3000:]}")
    return run, seconds


def articles(data: Path) -> dict[str, dict[str, Any]]:
    run, _ = newsflow(["export"], data)
    return {d["id"]: d for d in (json.loads(line) for line in run.stdout.splitlines() if line.strip())}


def main() -> int:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="scrapinghub,trafilatura-eval", help="development sets, comma-separated")
    parser.add_argument("--limit", type=int, help="only the first N pages")
    args = parser.parse_args()
    pages = load_pages(args.sets.split(","), args.limit)
    work = Path(tempfile.mkdtemp(prefix="newsflow-bench-import-"))
    try:
        with LoopbackSites(pages) as sites:
            feeds = work / "feeds.yaml"
            feeds.write_text(
                "feeds:\n" + "".join(f"  - url: {sites.feed_base}/feed{n}.xml\n" for n in range(FEEDS)),
                encoding="utf-8",
            )
            sites_count = len({p.site for p in pages})
            print(f"{len(pages)} pages of {sites_count} sites ({args.sets}) on 127.0.0.1, {os.cpu_count()} cores")
            fetched, run_seconds = newsflow(["run", "--feeds", str(feeds), "--once", "--timeout", "3600"], work / "run")
        archive = work / "pages.warc.gz"
        write_archive(pages, archive)
        imported, import_seconds = newsflow(["import", str(archive), "--timeout", "3600"], work / "import")
        again, again_seconds = newsflow(["import", str(archive)], work / "import")
        by_run, by_import = articles(work / "run"), articles(work / "import")
        same_ids = set(by_run) == set(by_import)
        same_bodies = sum(1 for i, d in by_run.items() if i in by_import and by_import[i]["body"] == d["body"])
        print(f"archive: {archive.stat().st_size / 1e6:.1f} MB, {len(pages)} response records")
        print("| command | articles indexed | seconds | articles/s |")
        print("| --- | --- | --- | --- |")
        for label, count, seconds in (
            ("run --once (fetch over loopback)", len(by_run), run_seconds),
            ("import (WARC.gz)", len(by_import), import_seconds),
        ):
            print(f"| {label} | {count} | {seconds:.1f} | {count / seconds:.1f} |")
        added = next((x for x in again.stdout.splitlines() if x.startswith("articles indexed")), "?")
        print(f"| import again | {added.split(':', 1)[1].strip()} | {again_seconds:.1f} | - |")
        print(f"same article ids: {same_ids}; same bodies: {same_bodies} of {len(by_run)}")
        differ = [d["url"] for i, d in by_run.items() if i in by_import and by_import[i]["body"] != d["body"]]
        for url in differ[:5]:
            print(f"  body differs: {url}")
        print("\nrun --once:\n" + fetched.stdout + "\nimport:\n" + imported.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
