"""Benchmarks and scoring scripts; `bench.quality` is also imported by the quality gate."""

import signal
import sys


def stop_cleanly_on_sigterm() -> None:
    """Make SIGTERM end a benchmark like Ctrl-C does, so the servers it started (redis-server,
    noida-db) are stopped by its `finally` blocks instead of outliving it."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
