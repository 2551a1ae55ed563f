"""Worker processes for `newsflow run`: started, watched, and restarted when one dies.

A worker (or the scheduler) that exits is restarted after a back-off (1 s, doubling to 30 s);
what it was running is put back on the queues at once (`handoff.recover_node`). Only a
process that keeps dying (`restart_limit` deaths within ten minutes) stops the run, with a
message that names it and its log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workers import lifeline

log = logging.getLogger("newsflow.supervisor")
RESTART_WINDOW = 600.0


@dataclass
class WorkerSpec:
    name: str
    queues: str = ""
    pool: str = "threads"
    concurrency: int = 1
    beat: bool = False  # the scheduler (celery beat) instead of a worker


def default_workers(cpus: int | None = None) -> list[WorkerSpec]:
    """I/O-bound stages on threads; CPU-bound cleaning on one process per core."""
    cpus = cpus or os.cpu_count() or 1
    return [
        WorkerSpec("io", "feeds,fetch,index", "threads", 16),
        WorkerSpec("process", "process", "prefork", cpus),
    ]


@dataclass
class Death:
    """A supervised process that exited: which, how, and the Celery node name it ran under."""

    name: str
    node: str
    returncode: int | None
    restarts: int


class WorkerCrashLoop(RuntimeError):
    """A worker kept dying: the run stops instead of restarting it for ever."""


@dataclass
class _Proc:
    spec: WorkerSpec
    popen: subprocess.Popen[bytes] | None = None
    incarnation: int = 0
    restart_at: float | None = None
    deaths: deque[float] = field(default_factory=deque)


class WorkerGroup:
    """Celery worker subprocesses sharing this process's broker and data directory."""

    def __init__(
        self,
        redis_url: str,
        data_dir: Path,
        specs: list[WorkerSpec],
        log_dir: Path,
        *,
        restart_limit: int = 10,
        env: dict[str, str] | None = None,
        record: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.record = record  # told the process groups of the children at each change
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.restart_limit = restart_limit
        self.env = env or {}
        self._procs = [_Proc(spec) for spec in specs]
        self.restarts = 0

    @property
    def procs(self) -> list[subprocess.Popen[bytes]]:
        """The running processes (for tests that kill them)."""
        return [p.popen for p in self._procs if p.popen is not None]

    def process_of(self, name: str) -> subprocess.Popen[bytes] | None:
        return next((p.popen for p in self._procs if p.spec.name == name), None)

    def node(self, proc: _Proc) -> str:
        """The Celery node name of one incarnation of a worker (what tasks see as their hostname):
        the worker's name, the pid of the run that started it and its incarnation, the host."""
        return f"{proc.spec.name}-{os.getpid()}.{proc.incarnation}@{socket.gethostname()}"

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env.update(extra_env or {})
        for proc in self._procs:
            self._spawn(proc)

    def _spawn(self, proc: _Proc) -> None:
        env = {**os.environ, "REDIS_URL": self.redis_url, "NEWSFLOW_DATA_DIR": str(self.data_dir), **self.env}
        env[lifeline.SUPERVISOR_ENV] = str(os.getpid())
        spec = proc.spec
        cmd = [sys.executable, "-m", "celery", "-A", "workers"]
        if env.get("NEWSFLOW_LOG_FORMAT", "").lower() == "json":
            cmd.append("--quiet")  # no banner printed before logging starts: every line is JSON
        if spec.beat:
            cmd += ["beat", "--loglevel", "INFO", "-s", str(self.data_dir / "beat-schedule")]
        else:
            cmd += ["worker", "-Q", spec.queues, "-P", spec.pool]
            cmd += ["-c", str(spec.concurrency), "-n", self.node(proc), "--loglevel", "INFO"]
            cmd += ["--without-gossip", "--without-mingle"]
        # The child keeps its own copy of the descriptor; ours closes at once.
        # Each leads its own process group (its pool children with it), and dies with this
        # process, however this one ends.
        with open(self.log_dir / f"worker-{spec.name}.log", "ab") as out:
            proc.popen = subprocess.Popen(
                cmd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lifeline.preexec(),  # system calls only: safe beside other threads
            )
        proc.restart_at = None
        self._record()

    def _record(self) -> None:
        if self.record is not None:
            self.record([p.popen.pid for p in self._procs if p.popen is not None and p.popen.poll() is None])

    def alive(self) -> bool:
        return all(p.popen is not None and p.popen.poll() is None for p in self._procs)

    def check(self, now: float | None = None) -> list[Death]:
        """Notice processes that exited since the last check, and plan their restart.

        Raises WorkerCrashLoop when one died `restart_limit` times within ten minutes."""
        now = time.monotonic() if now is None else now
        deaths = []
        for proc in self._procs:
            if proc.popen is None or proc.restart_at is not None:
                continue
            code = proc.popen.poll()
            if code is None:
                continue
            _kill_group(proc.popen)  # pool children left behind by a killed main
            node = self.node(proc)
            proc.deaths.append(now)
            while proc.deaths and proc.deaths[0] < now - RESTART_WINDOW:
                proc.deaths.popleft()
            logfile = self.log_dir / f"worker-{proc.spec.name}.log"
            if len(proc.deaths) >= self.restart_limit:
                raise WorkerCrashLoop(
                    f"worker {proc.spec.name} died {len(proc.deaths)} times within {RESTART_WINDOW / 60:.0f} minutes "
                    f"(last exit code {code}); giving up. See {logfile}"
                )
            backoff = min(30.0, 2.0 ** (len(proc.deaths) - 1))
            proc.restart_at = now + backoff
            self.restarts += 1
            log.warning(
                "worker %s exited (code %s); restarting in %.0f s (see %s)", proc.spec.name, code, backoff, logfile
            )
            deaths.append(Death(proc.spec.name, node, code, len(proc.deaths)))
        return deaths

    def restart_due(self, now: float | None = None) -> int:
        """Start again the processes whose back-off has passed; returns how many."""
        now = time.monotonic() if now is None else now
        started = 0
        for proc in self._procs:
            if proc.restart_at is not None and now >= proc.restart_at:
                proc.incarnation += 1
                self._spawn(proc)
                started += 1
        return started

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (finish running tasks), then kill what is left."""
        running = [p.popen for p in self._procs if p.popen is not None and p.popen.poll() is None]
        for popen in running:
            popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for popen in running:
            try:
                popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_group(popen)
                popen.wait()
        for proc in self._procs:
            if proc.popen is not None:
                _kill_group(proc.popen)
            proc.popen = None
        self._record()


def _kill_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL whatever is left of a worker's process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)


def started_by(node: str, run_pid: int) -> bool:
    """Whether Celery node `node` is a worker that the run of pid `run_pid` on this host started."""
    return re.search(rf"-{run_pid}\.\d+@{re.escape(socket.gethostname())}$", node) is not None
