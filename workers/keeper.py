"""The keeper of an embedded redis-server: `python -m workers.keeper BINARY CONFIG REDIS_DIR`.

The embedded Redis of a data directory serves every newsflow process on it; the last one to
leave stops it (`workers.embedded.EmbeddedRedis`). A process killed with SIGKILL cannot, so this small
process starts the server as its child and watches the users' locks: once no process holds
one (the last user closed, or died), it stops the server the way the last user would (under
the control lock, SIGTERM: Redis writes its files) and exits. The server dies with its
keeper (`lifeline`), so killing the keeper cannot leave it behind either. Only the standard
library is imported: it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

from workers import lifeline

CHECK_EVERY = 0.5  # seconds between two looks at the users' locks


def no_users(redis_dir: Path) -> bool:
    """True when no process holds a shared lock on the server (taken under the control lock)."""
    fd = os.open(redis_dir / "users.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def keep(binary: str, config: str, redis_dir: Path) -> int:
    """Run the server until it exits or nobody uses it; the server's exit code."""
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # a terminal's signals are for newsflow, not for Redis
    server = subprocess.Popen(
        [binary, config],
        cwd=redis_dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lifeline.preexec(signal.SIGTERM),
    )
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    while True:
        try:
            return server.wait(CHECK_EVERY)
        except subprocess.TimeoutExpired:
            pass
        control = os.open(redis_dir / "control.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Not blocking: the one holding it may be stopping the server and waiting for us.
            fcntl.flock(control, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if no_users(redis_dir):
                server.terminate()
                return server.wait()
        except BlockingIOError:
            continue  # a process starts using the server, or stops it: look again later
        finally:
            os.close(control)


def main(argv: list[str]) -> int:
    binary, config, redis_dir = argv
    return keep(binary, config, Path(redis_dir))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
