"""`newsflow serve`: the HTTP search API, search page, /healthz and /metrics (workers.api)."""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
from typing import TYPE_CHECKING

from workers.cli.common import open_runtime, whole_number

if TYPE_CHECKING:
    from pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sv = sub.add_parser("serve", help="the HTTP search API, search page, /healthz and /metrics")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    sv.add_argument(
        "--port", type=whole_number(0, 65535), default=8000, metavar="PORT", help="TCP port, 0 for any free one"
    )
    sv.set_defaults(func=cmd_serve)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from workers.api import serve

    # Listen, and start the embedded Redis, before saying so: a port in use or a data directory
    # the server cannot use stops `serve` at once with one line, rather than failing each request.
    # (A Redis or Elasticsearch of its own that does not answer yet is an outage: the server
    # starts, and /healthz and /metrics say so.)
    try:
        sock = socket.create_server((args.host, args.port))
    except OSError as exc:
        raise OSError(f"serve: cannot listen on {args.host} port {args.port}: {exc.strerror or exc}") from None
    with sock, open_runtime(settings) as rt:
        if not settings.redis_url:
            _ = rt.redis_url  # the embedded Redis starts here
        port = sock.getsockname()[1]
        print(f"newsflow: serving search on http://{args.host}:{port}/", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):  # SIGINT or SIGTERM: the way a server is asked to stop
            serve(rt, args.host, port, sock)
    return 0
