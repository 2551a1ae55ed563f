"""Child processes that die with the process that started them, however it dies.

A supervisor killed with SIGKILL (the OOM killer, a container runtime) runs no clean-up, so
each child asks the kernel for a signal when its parent goes (Linux `PR_SET_PDEATHSIG`):
- set between fork and exec (`preexec`), so it holds from the child's first instruction and
  through `exec` (a wrapper that execs keeps it);
- set again by the child itself once it runs (`arm`), relative to its parent then: a wrapper
  that forks instead of exec'ing dies with the supervisor, and its child with it.
Celery's prefork pool children already die with their worker (billiard sets SIGKILL in each).
Elsewhere than Linux nothing is set, and the next `run` ends what the last one left.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1
SUPERVISOR_ENV = "NEWSFLOW_SUPERVISOR_PID"  # set for children that must die with their supervisor


def _load_prctl() -> Callable[..., int] | None:
    if os.uname().sysname != "Linux":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl: Callable[..., int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()  # looked up before any fork: the child calls it without importing


def preexec(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A `preexec_fn` for Popen: the child gets `sig` when this thread (the parent) ends.

    Popen's child runs it after fork, before exec; if the parent is already gone by then
    the child ends itself at once."""
    parent = os.getpid()
    prctl = _PRCTL
    arg = ctypes.c_ulong(sig)  # built here: the child only makes system calls

    def set_in_child() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, arg, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return set_in_child


def arm(sig: int = signal.SIGKILL) -> bool:
    """In a supervised child (its environment names its supervisor): get `sig` when its
    parent ends, and end now when the supervisor is gone already. True when armed."""
    supervisor = os.environ.get(SUPERVISOR_ENV)
    if not supervisor or _PRCTL is None:
        return False
    _PRCTL(PR_SET_PDEATHSIG, ctypes.c_ulong(sig), 0, 0, 0)
    # Not "is my parent pid 1?": in a container the supervisor itself may be pid 1.
    if not alive(int(supervisor)):
        os.kill(os.getpid(), sig)
    return True


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie has exited; only its parent has not read its status)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
