"""The HTTP front: a threading server that hands each request to the sandbox's router."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from bot.sandbox.api_base import HttpReply

log = logging.getLogger(__name__)

Router = Callable[[str, str, str, Mapping[str, str], bytes], HttpReply]


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client must never keep the process alive
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], router: Router) -> None:
        super().__init__(address, _Handler)
        self.router = router
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        shown = host if isinstance(host, str) else host.decode()
        return f"http://{'127.0.0.1' if shown in ('0.0.0.0', '') else shown}:{port}"

    def start(self) -> None:
        # A short poll interval keeps stop() quick: shutdown waits for the next poll.
        self._thread = threading.Thread(target=self.serve_forever, args=(0.01,),
                                        name="slack-sandbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    server_version = "SlackSandbox/1.0"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = self.server.router(self.command, parts.path, parts.query, headers, body)
        except Exception as err:  # the server must answer even when the sandbox has a bug
            log.exception("sandbox failed on %s %s", self.command, self.path)
            reply = HttpReply.json(500, {"ok": False, "error": "internal_error",
                                         "detail": repr(err)})
        self._write(reply)

    def _write(self, reply: HttpReply) -> None:
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its own timeout); nothing left to tell it

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - " + format, self.address_string(), *args)
