"""Children die with their supervisor, through a wrapper script too (real processes, Linux)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workers.lifeline import alive

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")

# The child: arms itself as `run`'s workers do (worker_init), says its pid, and sleeps.
CHILD = "from workers import lifeline; import os, time; lifeline.arm(); print(os.getpid(), flush=True); time.sleep(600)"
# The supervisor: starts the child through `wrapper` as WorkerGroup does, says its pid, sleeps.
SUPERVISOR = """
import os, subprocess, sys, time
from workers import lifeline
env = {**os.environ, lifeline.SUPERVISOR_ENV: str(os.getpid())}
subprocess.Popen(sys.argv[1:], env=env, start_new_session=True, preexec_fn=lifeline.preexec())
time.sleep(600)
"""


@pytest.mark.parametrize(
    "wrapper",
    [
        "exec {python} -c '{child}'",  # a wrapper that execs: the signal set before exec holds
        "{python} -c '{child}'; echo done",  # one that forks: the child arms itself against it
    ],
    ids=["exec", "fork"],
)
def test_a_child_behind_a_wrapper_dies_with_its_sigkilled_supervisor(wrapper: str) -> None:
    """SIGKILL the supervisor; the Python child behind `sh -c` is gone within 5 s."""
    script = wrapper.format(python=sys.executable, child=CHILD)
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root}
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, "sh", "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert supervisor.stdout is not None
        child = int(supervisor.stdout.readline())
        assert alive(child)
        supervisor.kill()
        supervisor.wait(30)
        deadline = time.monotonic() + 5.0
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child), "the child outlived its supervisor"
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
        if supervisor.stdout is not None:
            supervisor.stdout.close()
