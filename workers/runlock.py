"""One `newsflow run` per data directory, and what a dead one left behind ended before starting.

`run` holds an exclusive lock (flock) on `<data dir>/run.lock` for its whole life, with its
pid written in the file; the kernel drops the lock when the process ends, however it ends.
A second `run` on the directory finds the lock held and stops at once, naming that pid.

`demo` starts each time from an empty directory of its own (`<data dir>/demo`). It empties it
only under `demo.lock` beside it (one demo at a time), with that directory's run lock held and
no other process using its embedded Redis (`DemoDirectory`): a second demo, or a search left
open on the demo's data, is told so and nothing is removed under it.

`run` also records the process groups of the workers and scheduler it starts in
`<data dir>/run.children`. Its children die with it (`lifeline`), but where the kernel could
not be asked to (not Linux) or a child was caught half-way, the next `run`, once it holds the
lock, ends every process of those groups still working for this data directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import time
from pathlib import Path

from workers.lifeline import alive

EX_TEMPFAIL = 75  # the data directory is busy now: try again once the other run ended
LOCK_FILE = "run.lock"
DEMO_LOCK_FILE = "demo.lock"
CHILDREN_FILE = "run.children"


class RunBusy(RuntimeError):
    """Another `newsflow run` holds this data directory."""

    exit_code = EX_TEMPFAIL

    def __init__(self, data_dir: Path, pid: int | None, what: str = "newsflow run", message: str | None = None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            message
            or f"another `{what}` ({who}) is running on {data_dir}; stop it first, or use another data directory"
        )
        self.pid = pid


class RunLock:
    """The lock of one data directory's `run`; a context manager."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self.children = data_dir / CHILDREN_FILE
        self._fd: int | None = None
        self.ended: list[int] = []  # processes a dead run left, ended when the lock was taken
        self.dead_run: int | None = None  # the pid of the run before, when it died holding the lock

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> list[int]:
        """Take the lock (RunBusy when held), then end what a dead run left; their pids."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise RunBusy(self.data_dir, holder) from None
        self.dead_run = _read_pid(fd)  # a run that ended well left the file empty (`release`)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        self.ended = self.end_leftovers()
        return self.ended

    def release(self) -> None:
        if self._fd is None:
            return
        self.children.unlink(missing_ok=True)
        os.ftruncate(self._fd, 0)
        os.close(self._fd)  # the lock goes with the descriptor
        self._fd = None

    def record(self, groups: list[int]) -> None:
        """Write down the process groups this run's children lead (replaced at each change)."""
        temp = self.children.with_suffix(".tmp")
        temp.write_text("".join(f"{g}\n" for g in groups))
        temp.replace(self.children)

    def end_leftovers(self, timeout: float = 10.0) -> list[int]:
        """SIGKILL every process of the recorded groups that still works for this data
        directory (a pid reused by an unrelated process is left alone); their pids."""
        try:
            groups = {int(line) for line in self.children.read_text().split() if line.strip().isdigit()}
        except OSError:
            return []
        found = [pid for pid in _processes_of(self.data_dir) if _group_of(pid) in groups]
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while any(alive(pid) for pid in found) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.children.unlink(missing_ok=True)
        return found


class DemoDirectory:
    """The demo's own data directory, emptied for a fresh demo; a context manager held for the
    whole demo. RunBusy when another demo runs, or another process uses the directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent / DEMO_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise RunBusy(self.path, holder, what="newsflow demo") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        try:
            self._empty()
        except BaseException:
            self.__exit__()
            raise
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _empty(self) -> None:
        """Remove what an earlier demo left, keeping only the run lock, held meanwhile: a `run`
        on the directory holds that lock, and any other command on it uses its embedded Redis."""
        from workers.embedded import in_use

        with RunLock(self.path):
            if in_use(self.path):
                raise RunBusy(
                    self.path,
                    None,
                    message=f"another newsflow process (a search, status or serve) uses {self.path}; stop it first",
                )
            for entry in self.path.iterdir():
                if entry.name == LOCK_FILE:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or "0") or None
    except (OSError, ValueError):
        return None


def _processes_of(data_dir: Path) -> list[int]:
    """Pids whose environment names `data_dir` as theirs (how `run` starts its children)."""
    marker = f"NEWSFLOW_DATA_DIR={data_dir}".encode()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None
