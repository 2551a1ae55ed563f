"""Start and stop a private `noida-db` Elasticsearch for tests and benchmarks.

noida-db (PyPI) is a wire-compatible stand-in for Elasticsearch 8.15. Each server gets a
fresh data directory and a free port on 127.0.0.1, and is stopped by its own process id.
We run the packaged binary directly: the `noida-db` console script is a Python wrapper that
would leave the real server running if only the wrapper were signalled.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from importlib import resources
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def noida_command() -> list[str]:
    """The server binary shipped inside the noida_db package, else the console script."""
    try:
        binary = resources.files("noida_db").joinpath("noida-db")
        if binary.is_file():
            path = Path(str(binary))
            if not os.access(path, os.X_OK):
                path.chmod(0o755)
            return [str(path)]
    except ModuleNotFoundError:
        pass
    script = Path(sys.executable).with_name("noida-db")
    found = str(script) if script.exists() else shutil.which("noida-db")
    if not found:
        raise RuntimeError("noida-db is not installed: pip install noida-db (or set ELASTICSEARCH_URL)")
    return [found]


class NoidaServer:
    """One noida-db process serving only Elasticsearch; restartable on the same data and port."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self, timeout: float = 30.0) -> NoidaServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            *noida_command(),
            "start",
            "--only",
            "elasticsearch",
            "--data-dir",
            str(self.data_dir),
            "--elasticsearch-port",
            str(self.port),
            "--host",
            "127.0.0.1",
        ]
        with self.log.open("ab") as log:
            # Own session: a signal meant for pytest (Ctrl-C) is not delivered to it twice.
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"noida-db exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"noida-db did not answer on {self.url} within {timeout:.0f} s; see {self.log}")

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate (noida saves its data on SIGTERM), then kill after `timeout`."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL by process id: no chance to save anything."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def __enter__(self) -> NoidaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
