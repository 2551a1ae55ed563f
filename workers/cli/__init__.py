"""The `newsflow` command line: one module per command group, each registering its commands.

    run.py     run, demo                                  (orchestration: workers.service)
    importing.py  import (WARC backfill: pipeline.importing)
    search.py  search, export, explain
    clean.py   clean (one page, no Redis)
    ops.py     status, dead-letters, reprocess, reindex, prune, prune-raw
    drift.py   drift list|accept                          (the drift alarm: pipeline.drift)
    feeds.py   feeds list|load|add|remove|pause|resume|import|export
    serve.py   serve                                      (the HTTP side: workers.api)

Exit codes: 0 done; 1 the command failed (one line on stderr says why); 2 bad usage or
settings (a feeds file included); 75 Redis, the broker or the search backend does not answer,
or another `run` or `demo` holds the data directory (try again later); 130 and 143 interrupted
by SIGINT and SIGTERM (`serve` and `run` without `--once` exit 0, and so does `status
--watch` on Ctrl-C: that is how they are stopped; `run --once` cut short has not done its
work); 141 the reader of stdout went away (`newsflow export | head`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from workers.cli import clean, drift, feeds, importing, ops, run, search, serve

if TYPE_CHECKING:
    from pipeline.settings import Settings

COMMAND_GROUPS = (run, importing, search, clean, ops, drift, feeds, serve)
EX_USAGE = 2
EX_TEMPFAIL = 75
EX_BROKEN_PIPE = 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if not hasattr(args, "func"):
        parser.print_help()
        return EX_USAGE
    from pydantic import ValidationError

    from pipeline.settings import Settings, describe_invalid

    try:
        settings = Settings.load()
    except ValidationError as exc:
        print(f"newsflow: bad settings: {describe_invalid(exc)}", file=sys.stderr)
        return EX_USAGE
    except ValueError as exc:
        print(f"newsflow: bad settings: {exc}", file=sys.stderr)
        return EX_USAGE
    try:
        with _stop_signals_interrupt():
            return int(args.func(settings, args) or 0)
    except Interrupted as exc:
        return 128 + exc.signum
    except KeyboardInterrupt:  # before our handler was installed, or off the main thread
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # The reader (`newsflow export | head`) has all it wanted: end quietly, as `cat` would.
        _silence_stdout()
        return EX_BROKEN_PIPE
    except Exception as exc:
        known = _explain(exc, settings)
        if known is None or args.verbose:
            raise
        message, code = known
        print(f"newsflow: {message}", file=sys.stderr)
        return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsflow", description="News ingestion: feeds to clean, searchable articles.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks of errors")
    sub = p.add_subparsers(metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    return p


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived: unwind, so every `finally` stops what it started
    (worker processes, the embedded Redis)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    stopping = False

    def interrupt(signum: int, frame: FrameType | None) -> None:
        # The first signal unwinds; later ones must not cut short the clean-up it started
        # (workers finishing their tasks, then Redis writing its files).
        nonlocal stopping
        if stopping:
            print("newsflow: stopping; waiting for what runs to finish", file=sys.stderr)
            return
        stopping = True
        raise Interrupted(signum)

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, interrupt) for s in stops}
    try:
        yield
    finally:
        for s, handler in previous.items():
            # Once stopping, this process only exits: a late signal must not kill it first.
            signal.signal(s, signal.SIG_IGN if stopping else handler)


def _explain(exc: Exception, settings: Settings) -> tuple[str, int] | None:
    """One line and an exit code for the errors an operator can act on; None for a bug."""
    from pipeline.errors import NewsflowError, TransientError

    if _redis_unreachable(exc):
        from pipeline.state import describe

        if settings.redis_url:
            where = f"Redis at {describe(settings.redis_url)}"
            hint = "check REDIS_URL, or unset it for the embedded one"
        else:
            where, hint = "the embedded Redis", f"see {settings.data_dir / 'redis' / 'redis.log'}"
        if settings.broker_url and settings.broker_url != settings.redis_url:
            where += f" or the broker's Redis at {describe(settings.broker_url)}"
            hint += "; check NEWSFLOW_BROKER_URL"
        return f"{where} does not answer ({exc}); {hint}", EX_TEMPFAIL
    if isinstance(exc, TransientError):
        return str(exc), EX_TEMPFAIL
    if isinstance(exc, RecursionError | NotImplementedError):
        return None  # RuntimeErrors that are bugs
    if isinstance(exc, NewsflowError | ValueError | OSError | RuntimeError):
        return str(exc), int(getattr(exc, "exit_code", 1))
    return None


def _redis_unreachable(exc: Exception) -> bool:
    # Only a command that loaded Redis can have met it: no import here for the others.
    if (state := sys.modules.get("pipeline.state")) and isinstance(exc, state.OUTAGE_ERRORS):
        return True
    kombu = sys.modules.get("kombu.exceptions")
    return kombu is not None and isinstance(exc, kombu.OperationalError)


class _OneLine(logging.Formatter):
    """Warnings as `newsflow: message`, without the traceback (`-v` shows it)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"newsflow: {record.getMessage()}"


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler()
    if verbose:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_OneLine())
        # The Elasticsearch client logs each retry of an unreachable node with its traceback;
        # the backend's own error says it once.
        logging.getLogger("elastic_transport").setLevel(logging.ERROR)
        # trafilatura warns of each page it reads nothing in ("discarding data"), several times
        # a page; the command's own line says what became of the page.
        logging.getLogger("trafilatura").setLevel(logging.ERROR)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler])


def _silence_stdout() -> None:
    # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
