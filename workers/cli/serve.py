"""`newsflow serve`: the HTTP search API, search page, /healthz and /metrics (workers.api)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from workers.cli.common import open_runtime, whole_number

if TYPE_CHECKING:
    from pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sv = sub.add_parser("serve", help="the HTTP search API, search page, /healthz and /metrics")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=whole_number(0, 65535), default=8000, help="TCP port, 0 for any free one")
    sv.set_defaults(func=cmd_serve)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from workers.api import make_server

    with open_runtime(settings) as rt:
        server = make_server(rt, args.host, args.port)
        print(f"newsflow: serving search on http://{args.host}:{server.server_address[1]}/", file=sys.stderr)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass  # SIGINT or SIGTERM: the way a server is asked to stop
        finally:
            server.server_close()
    return 0
