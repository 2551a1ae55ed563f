"""Starting worker processes for `newsflow run`, and telling when all work is done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from workers.celery_app import QUEUES

# kombu's Redis transport keeps reserved-but-unacknowledged messages in this hash.
UNACKED_KEY = "unacked"
_PRIORITY_SEP = "\x06\x16"


@dataclass
class WorkerSpec:
    name: str
    queues: str
    pool: str
    concurrency: int


def default_workers(cpus: int | None = None) -> list[WorkerSpec]:
    """I/O-bound stages on threads; CPU-bound cleaning on one process per core."""
    cpus = cpus or os.cpu_count() or 1
    return [
        WorkerSpec("io", "feeds,fetch,index", "threads", 16),
        WorkerSpec("process", "process", "prefork", cpus),
    ]


class WorkerGroup:
    """Celery worker subprocesses sharing this process's broker and data directory."""

    def __init__(self, redis_url: str, data_dir: Path, specs: list[WorkerSpec], log_dir: Path) -> None:
        self.redis_url = redis_url
        self.data_dir = data_dir
        self.specs = specs
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "REDIS_URL": self.redis_url, "NEWSFLOW_DATA_DIR": str(self.data_dir), **(extra_env or {})}
        for spec in self.specs:
            cmd = [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers",
                "worker",
                "-Q",
                spec.queues,
                "-P",
                spec.pool,
                "-c",
                str(spec.concurrency),
                "-n",
                f"{spec.name}-{os.getpid()}@%h",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ]
            # The child keeps its own copy of the descriptor; ours closes at once.
            with open(self.log_dir / f"worker-{spec.name}.log", "ab") as log:
                self.procs.append(
                    subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
                )

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (finish running tasks), then kill what is left."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Messages waiting in each stage queue (priority sub-queues included)."""
    pipe = client.pipeline()
    for q in QUEUES:
        pipe.llen(q)
        for pri in (3, 6, 9):
            pipe.llen(f"{q}{_PRIORITY_SEP}{pri}")
    counts = pipe.execute()
    return {q: sum(counts[i * 4 : i * 4 + 4]) for i, q in enumerate(QUEUES)}


def in_flight(client: redis.Redis) -> int:
    """Messages a worker holds but has not acknowledged: running, or waiting for a retry."""
    return int(client.hlen(UNACKED_KEY))


def is_idle(client: redis.Redis) -> bool:
    """Nothing queued and nothing in flight. Articles may still wait to be indexed (the
    search backend is away): every write to the pending hash queues an index task, so
    once those tasks are done, what is left waits for the backend, not for a worker."""
    return sum(queue_depths(client).values()) == 0 and in_flight(client) == 0


def wait_until_idle(client: redis.Redis, workers: WorkerGroup, timeout: float, poll: float = 0.25) -> bool:
    """True once nothing is queued or in flight on two checks in a row; False on timeout."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        if not workers.alive():
            raise RuntimeError("a worker process exited; see the worker logs under the data directory")
        quiet = quiet + 1 if is_idle(client) else 0
        if quiet >= 3:
            return True
        time.sleep(poll)
    return False
