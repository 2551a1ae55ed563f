"""Politeness shared through real Redis: robots.txt, Retry-After, concurrency cap and rate, across "workers".

Each "worker" here is its own Redis connection and Politeness object, as in separate processes;
tests/fetching/test_workers.py does the same with real Celery worker processes.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from demo.server import SiteServer
from pipeline.errors import HostBusy, RobotsDisallowed, TransientError
from pipeline.fetching import Fetcher
from pipeline.politeness import Politeness, PolitenessConfig, host_key
from pipeline.state import StateStore
from tests.feeds.helpers import FeedRoute, local_fetcher, redirect
from tests.fetching.samples import ROBOTS
from tests.hostile.servers import drip_body
from workers.runtime import Runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def two_workers(runtime: Runtime, embedded_redis: str) -> Iterator[tuple[Politeness, Politeness]]:
    """Two independent Politeness instances on separate Redis connections, like two worker processes."""
    stores = [StateStore.from_url(embedded_redis) for _ in range(2)]
    config = PolitenessConfig(delay=0.0, max_concurrency=2, max_wait=5.0, max_retry_after=3600)
    yield Politeness(stores[0].hosts, config), Politeness(stores[1].hosts, config)
    for store in stores:
        store.close()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    f = local_fetcher()
    yield f
    f.close()


def test_robots_disallow_obeyed_and_robots_fetched_once(
    tmp_path: Path, two_workers: tuple[Politeness, Politeness], fetcher: Fetcher
) -> None:
    """A disallowed page is never requested; robots.txt is fetched once and shared by both workers."""
    (tmp_path / "robots.txt").write_text(ROBOTS.replace("Crawl-delay: 2", ""))
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "a.html").write_text("<p>no</p>")
    (tmp_path / "a.html").write_text("<p>yes</p>")
    a, b = two_workers
    with SiteServer(tmp_path) as srv:
        with pytest.raises(RobotsDisallowed):
            a.fetch(f"{srv.base}/private/a.html", fetcher)
        with pytest.raises(RobotsDisallowed):
            b.fetch(f"{srv.base}/private/a.html", fetcher)
        assert b.fetch(f"{srv.base}/a.html", fetcher).body == b"<p>yes</p>"
        assert srv.requests == ["/robots.txt", "/a.html"]


@pytest.mark.parametrize("honest_length", [True, False], ids=["declared", "streamed"])
def test_oversized_robots_txt_counts_as_absent(
    tmp_path: Path, runtime: Runtime, fetcher: Fetcher, honest_length: bool
) -> None:
    """A robots.txt over the 500 KiB limit (declared or found while reading) is treated as no robots.txt: pages are fetched."""
    body = b"User-agent: *\nDisallow: /a.html\n" + b"# padding\n" * 60_000

    def robots(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        if honest_length:
            h.send_header("Content-Length", str(len(body)))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        with contextlib.suppress(OSError):
            h.wfile.write(body)

    (tmp_path / "a.html").write_text("<p>a</p>")
    polite = Politeness(runtime.state.hosts, PolitenessConfig(delay=0.0))
    with SiteServer(tmp_path, routes={"/robots.txt": robots}) as srv:
        assert polite.fetch(f"{srv.base}/a.html", fetcher).body == b"<p>a</p>"


def test_robots_txt_dripping_past_the_deadline_blocks_the_host_for_a_while(tmp_path: Path, runtime: Runtime) -> None:
    """A robots.txt that drips past the total deadline counts as unreachable: the host is left alone
    (HostBusy, reason robots) and neither robots.txt nor the page is asked again meanwhile."""
    (tmp_path / "a.html").write_text("<p>a</p>")
    polite = Politeness(runtime.state.hosts, PolitenessConfig(delay=0.0, robots_error_ttl=600))
    quick = local_fetcher(total_timeout=1.0, read_timeout=1.0)
    with (
        SiteServer(tmp_path, routes={"/robots.txt": drip_body(every=0.1, seconds=30)}) as srv,
        contextlib.closing(quick),
    ):
        for _ in range(2):
            with pytest.raises(HostBusy) as busy:
                polite.fetch(f"{srv.base}/a.html", quick)
            assert busy.value.reason == "robots" and busy.value.retry_after > 500
        assert srv.requests == ["/robots.txt"]


def test_crawl_delay_slows_the_host(tmp_path: Path, runtime: Runtime, fetcher: Fetcher) -> None:
    """With `Crawl-delay: 2`, the second request to the host waits about two seconds for its slot."""
    (tmp_path / "robots.txt").write_text("User-agent: *\nCrawl-delay: 2\n")
    (tmp_path / "a.html").write_text("<p>a</p>")
    polite = Politeness(runtime.state.hosts, PolitenessConfig(delay=0.0, max_wait=0.5))
    with SiteServer(tmp_path) as srv:
        polite.fetch(f"{srv.base}/a.html", fetcher)
        with pytest.raises(HostBusy) as busy:
            polite.fetch(f"{srv.base}/a.html", fetcher)
    assert busy.value.reason == "rate" and 1.0 < busy.value.retry_after <= 2.0


def test_retry_after_120_keeps_every_worker_off_the_host(
    tmp_path: Path, two_workers: tuple[Politeness, Politeness], fetcher: Fetcher
) -> None:
    """After a 429 with Retry-After: 120, neither worker sends another request; both are told to wait ~120 s."""
    route = FeedRoute(status=429, extra_headers={"Retry-After": "120"})
    a, b = two_workers
    with SiteServer(tmp_path, routes={"/a.html": route, "/b.html": route}) as srv:
        with pytest.raises(TransientError) as first:
            a.fetch(f"{srv.base}/a.html", fetcher)
        assert first.value.retry_after is not None and first.value.retry_after >= 119
        for worker in (a, b, a, b):
            for path in ("/a.html", "/b.html"):
                with pytest.raises(HostBusy) as busy:
                    worker.fetch(srv.base + path, fetcher)
                assert busy.value.reason == "blocked"
                assert 110 < busy.value.retry_after <= 120
        assert len(route.hits) == 1
        assert 110 < b.blocked_for(srv.base) <= 120


def test_concurrency_cap_holds_across_workers(runtime: Runtime, two_workers: tuple[Politeness, Politeness]) -> None:
    """With a cap of 2, a third request slot is refused while two are held, and granted once one is released."""
    a, b = two_workers
    url = "http://cap.example/x"
    with a.slot(url), b.slot(url):
        verdict, _, _ = a.acquire(host_key(url))
        assert verdict == "busy"
    with a.slot(url):
        pass


def test_rate_limit_spaces_requests_of_many_threads(runtime: Runtime, embedded_redis: str) -> None:
    """Eight threads on two connections asking for one host get slots at least `delay` apart."""
    stores = [StateStore.from_url(embedded_redis) for _ in range(2)]
    config = PolitenessConfig(delay=0.2, max_concurrency=0, max_wait=10.0)
    workers = [Politeness(store.hosts, config) for store in stores]
    times: list[float] = []
    lock = threading.Lock()

    def go(i: int) -> None:
        with workers[i % 2].slot("http://rate.example/x"):
            at = stores[i % 2].hosts.now()
            with lock:
                times.append(at)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for store in stores:
        store.close()
    times.sort()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 8
    assert min(gaps) >= 0.2 - 0.03  # slot times by the Redis clock; allowance for the sleep's wake-up


def test_a_redirect_to_another_host_obeys_that_hosts_robots(
    tmp_path: Path, two_workers: tuple[Politeness, Politeness], fetcher: Fetcher
) -> None:
    """A page that redirects to a path the target host's robots.txt disallows is not fetched there."""
    target_dir, origin_dir = tmp_path / "target", tmp_path / "origin"
    (target_dir / "private").mkdir(parents=True)
    origin_dir.mkdir()
    (target_dir / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    (target_dir / "private" / "a.html").write_text("<p>no</p>")
    polite, _ = two_workers
    with SiteServer(target_dir) as target:
        route = {"/go": redirect(f"{target.base}/private/a.html")}
        with SiteServer(origin_dir, routes=route) as origin, pytest.raises(RobotsDisallowed) as refused:
            polite.fetch(f"{origin.base}/go", fetcher)
    assert refused.value.url == f"{target.base}/private/a.html"
    assert target.requests == ["/robots.txt"]


def test_a_redirect_to_another_host_waits_for_that_hosts_rate(
    tmp_path: Path, runtime: Runtime, fetcher: Fetcher
) -> None:
    """Two fetches on a host without limits, both redirected to a host with Crawl-delay 2: the second is held back."""
    target_dir, origin_dir = tmp_path / "target", tmp_path / "origin"
    target_dir.mkdir()
    origin_dir.mkdir()
    (target_dir / "robots.txt").write_text("User-agent: *\nCrawl-delay: 2\n")
    (target_dir / "a.html").write_text("<p>a</p>")
    polite = Politeness(runtime.state.hosts, PolitenessConfig(delay=0.0, max_wait=0.5))
    with SiteServer(target_dir) as target:
        routes = {"/one": redirect(f"{target.base}/a.html"), "/two": redirect(f"{target.base}/a.html")}
        with SiteServer(origin_dir, routes=routes) as origin:
            assert polite.fetch(f"{origin.base}/one", fetcher).body == b"<p>a</p>"
            with pytest.raises(HostBusy) as busy:
                polite.fetch(f"{origin.base}/two", fetcher)
    assert busy.value.reason == "rate"
    assert target.requests.count("/a.html") == 1
