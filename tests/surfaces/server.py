"""A real uvicorn server running the newsflow API in a thread, on a free port of 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

from workers.api import make_server
from workers.runtime import Runtime


class ApiServer:
    """`with ApiServer(rt) as api:` serves `rt` at `api.base` until the block ends."""

    def __init__(self, rt: Runtime) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        # As `workers.api.serve` does: without it each answer waits ~40 ms for a delayed ACK.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind(("127.0.0.1", 0))  # bound before the thread starts: no race for the port
        port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.server = make_server(rt, "127.0.0.1", port)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not start on {self.base}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()
