"""The agent API's server in ``signoff serve``: uvicorn running the ASGI app, bound to
``host:port`` (port 0 picks a free one), started in a thread beside the Slack front door."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import uvicorn

from bot.server.sockets import BACKLOG, listening


class AsgiServer:
    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 3000,
                 reuse_port: bool = False) -> None:
        self._sock = listening(host, port, reuse_port=reuse_port)
        self.host = host
        self.port = int(self._sock.getsockname()[1])
        # "auto": uvloop's event loop and httptools' parser where they are installed (they
        # are dependencies, except on Windows, which uvloop does not support): the API's
        # event loop is on the GIL's critical path, and against asyncio's loop and h11 they
        # cut serve's CPU per GET /v1/requests/{id} by about a quarter (docs/benchmarks.md).
        config = uvicorn.Config(app, log_level="warning", lifespan="on", loop="auto",
                                http="auto", timeout_graceful_shutdown=10, backlog=BACKLOG)
        self._loop_factory = config.get_loop_factory()
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`close` (or, in the main thread, SIGTERM/SIGINT)."""
        with asyncio.Runner(loop_factory=self._loop_factory) as runner:
            runner.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> AsgiServer:
        self._thread = threading.Thread(target=self.serve_forever, name="signoff-asgi",
                                        daemon=True)
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            threading.Event().wait(0.01)  # start-up only: uvicorn has no started event
        return self

    def close(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._sock.close()

    def __enter__(self) -> AsgiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
