"""Poll 200 generated feeds on 20 local hosts for a bounded time, through the real pipeline pieces.

    .venv/bin/python bench/feeds_poll.py [--seconds 60] [--host-delay 0.25] [--threads 32]

Each host is a SiteServer on its own port of 127.0.0.1 serving 10 feeds that publish at different
rates: most honour ETag/Last-Modified (304), some send no validators (the body hash says
"unchanged"), one per host has an ETag that never changes (a liar, to be caught). Polls go
through `scheduling.poll_and_plan` with real Redis (embedded), the shared politeness and the
adaptive scheduler, from a pool of threads standing in for workers.

Prints polls per second, the share of polls answered 304 or skipped as unchanged, the feed
health summary (as `newsflow status` shows it), and checks each server's request log: no host
asked faster than its limit.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import multiprocessing
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.server import SiteServer  # noqa: E402
from pipeline import scheduling  # noqa: E402 - after the path set-up above
from pipeline.feeds import FeedConfig  # noqa: E402
from pipeline.fetching import AddressGuard, Fetcher, FetchLimits  # noqa: E402
from pipeline.politeness import HostBusy, Politeness, PolitenessConfig  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from workers.runtime import Runtime  # noqa: E402

HOSTS = 20
FEEDS_PER_HOST = 10


class GeneratedFeed:
    """A feed that gains an item every `period` seconds; validators per `mode` (normal, none, liar)."""

    def __init__(self, name: str, period: float, mode: str, started: float) -> None:
        self.name = name
        self.period = period
        self.mode = mode
        self.started = started

    def body(self, base: str, now: float) -> tuple[bytes, int]:
        n = 5 + int((now - self.started) / self.period)
        items = "".join(
            f"<item><title>{self.name} story {i}</title><link>{base}/{self.name}/story-{i}.html</link>"
            f"<guid isPermaLink='false'>{self.name}-{i}</guid></item>"
            for i in range(n, max(0, n - 20), -1)
        )
        xml = f"<?xml version='1.0'?><rss version='2.0'><channel><title>{self.name}</title>{items}</channel></rss>"
        return xml.encode(), n


class Host:
    """One local site: its feeds, and a log of every request's arrival time."""

    def __init__(self, index: int, started: float, rng: random.Random) -> None:
        self.log: list[float] = []
        self.lock = threading.Lock()
        self.feeds: dict[str, GeneratedFeed] = {}
        for j in range(FEEDS_PER_HOST):
            mode = "liar" if j == 0 else ("none" if j == 1 else "normal")
            period = rng.choice([3.0, 10.0, 30.0, 120.0, 600.0])
            self.feeds[f"/feed-{j}.xml"] = GeneratedFeed(f"h{index}f{j}", period, mode, started)
        routes = {path: self.serve for path in self.feeds} | {"/robots.txt": self.serve}
        self.server = SiteServer(Path(tempfile.mkdtemp(prefix="nf-bench-site-")), routes=routes)

    def serve(self, h: BaseHTTPRequestHandler) -> None:
        now = time.time()
        with self.lock:
            self.log.append(now)
        feed = self.feeds.get(h.path)
        if feed is None:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        body, n = feed.body(self.server.base, now)
        etag = '"fixed"' if feed.mode == "liar" else '"' + hashlib.sha1(body).hexdigest()[:12] + '"'
        modified = formatdate(feed.started + n * feed.period, usegmt=True)
        if feed.mode != "none" and (h.headers.get("If-None-Match") == etag):
            h.send_response(304)
            h.send_header("ETag", etag)
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        if feed.mode != "none":
            h.send_header("ETag", etag)
            h.send_header("Last-Modified", modified)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def serve_hosts(conn: Connection, started: float) -> None:
    """Child process: serve the hosts, report their addresses, and on "stop" send back their logs."""
    rng = random.Random(42)
    hosts = [Host(i, started, rng) for i in range(HOSTS)]
    for h in hosts:
        h.server.__enter__()
    conn.send([(h.server.base, list(h.feeds)) for h in hosts])
    conn.recv()
    for h in hosts:
        h.server.__exit__()
    conn.send([h.log for h in hosts])


def check_rate(log: list[float], delay: float, tolerance: float = 0.05) -> tuple[float, int]:
    """Smallest gap between two requests, and how many gaps fell short of `delay - tolerance`."""
    times = sorted(log)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return (min(gaps) if gaps else float("inf")), sum(1 for g in gaps if g < delay - tolerance)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to poll")
    ap.add_argument("--host-delay", type=float, default=0.25, help="seconds between requests to one host")
    ap.add_argument("--threads", type=int, default=32, help="concurrent pollers")
    ap.add_argument("--min-interval", type=float, default=2.0, help="operator's minimum poll interval")
    ap.add_argument("--max-interval", type=float, default=30.0, help="operator's maximum poll interval")
    ap.add_argument("--data-dir", type=Path, help="keep Redis here (default: a temporary directory)")
    args = ap.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="nf-bench-"))
    settings = Settings(
        data_dir=data_dir,
        redis_url=None,
        host_delay=args.host_delay,
        host_max_wait=1.0,
        allow_private_networks="127.0.0.1/32",
        feed_interval=args.min_interval * 2,
        feed_min_interval=args.min_interval,
        feed_max_interval=args.max_interval,
        feed_verify_every=5,
    )
    # The servers run in their own process, so their request log is not skewed by the pollers' threads.
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    started = time.time()
    proc = ctx.Process(target=serve_hosts, args=(child, started), daemon=True)
    proc.start()
    sites: list[tuple[str, list[str]]] = parent.recv()
    rt = Runtime(settings)
    feeds = [FeedConfig(url=f"{base}{path}") for base, paths in sites for path in paths]
    scheduling.register_feeds(rt.state, feeds, time.time())
    fetcher = Fetcher(FetchLimits(user_agent=settings.user_agent), AddressGuard(settings.allowed_networks))
    polite = Politeness(rt.state.hosts, PolitenessConfig.from_settings(settings))
    policy = scheduling.PollPolicy.from_settings(settings)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def poll_one(feed: FeedConfig) -> None:
        try:
            result = scheduling.poll_and_plan(
                feed,
                fetcher=fetcher,
                state=rt.state,
                policy=policy,
                max_bytes=settings.max_feed_bytes,
                politeness=polite,
                verify_every=settings.feed_verify_every,
            )
            key = result.outcome
        except HostBusy:
            key = "deferred (host busy)"
        except Exception as exc:
            key = f"error: {type(exc).__name__}"
        with lock:
            outcomes[key] += 1

    print(f"{len(feeds)} feeds on {HOSTS} hosts; host limit 1 request / {args.host_delay} s; polling {args.seconds} s")
    t0 = time.monotonic()
    with ThreadPoolExecutor(args.threads) as pool:
        while time.monotonic() - t0 < args.seconds:
            for feed in scheduling.claim_due(rt.state, time.time(), limit=args.threads * 2):
                pool.submit(poll_one, feed)
            time.sleep(0.05)
    elapsed = time.monotonic() - t0
    parent.send("stop")
    logs: list[list[float]] = parent.recv()
    proc.join(10)

    done = sum(v for k, v in outcomes.items() if k in ("read", "not_modified", "unchanged"))
    cheap = outcomes["not_modified"] + outcomes["unchanged"]
    print(f"\npolls completed: {done} in {elapsed:.1f} s = {done / elapsed:.1f} polls/s")
    for key, n in sorted(outcomes.items()):
        print(f"  {key:<24} {n}")
    print(f"share answered 304 or skipped as unchanged: {cheap / max(done, 1):.1%}")
    stats = rt.state.stats()
    print(f"lying validators caught: {stats.get('feeds_lying_validators', 0)} feed(s)")

    worst_gap = float("inf")
    violations = 0
    requests = 0
    for log in logs:
        gap, bad = check_rate(log, args.host_delay)
        worst_gap = min(worst_gap, gap)
        violations += bad
        requests += len(log)
    print(
        f"server logs: {requests} requests; smallest gap between two requests to one host {worst_gap * 1000:.0f} ms"
        f" (limit {args.host_delay * 1000:.0f} ms); gaps under the limit (50 ms jitter allowed): {violations}"
    )
    health = scheduling.feed_health(rt.state)
    counts = Counter(f["health"] for f in health)
    print("feed health: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    every_next = all(f["next_poll"] for f in health)
    print(f"every feed has a next poll: {every_next}")
    for f in health[:3]:
        print(f"  [{f['health']}] {f['url']} every={f['interval']}s next={f['next_poll']} items={f['items_seen']}")
    print(f"\nsee every feed: NEWSFLOW_DATA_DIR={data_dir} .venv/bin/newsflow status")
    fetcher.close()
    rt.close()
    return 0 if violations == 0 and every_next else 1


if __name__ == "__main__":
    sys.exit(main())
