"""The HTTP front door: ``POST /slack/events``, ``GET /healthz`` and ``GET /metrics`` on
waitress, a production WSGI server with a thread pool (Bolt's ``app.start()`` is
single-threaded)."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server
from waitress.task import ThreadedTaskDispatcher

from bot.counters import count_http
from bot.server.ackfirst import AckFirst
from bot.server.metrics import METRICS_PATH, metrics_app
from bot.server.sockets import listening
from store.errors import StoreError
from store.ledger import Ledger

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
StartResponse = Callable[..., Any]
_TIMESTAMP = re.compile(r"[0-9]{1,15}")


class Router:
    """A WSGI app with exactly the routes signoff serves."""

    def __init__(self, app: App, ledger: Ledger, policy_version: str,
                 acks: AckFirst | None = None) -> None:
        self._bolt = SlackRequestHandler(app, path=EVENTS_PATH)
        self._ledger = ledger
        self._policy_version = policy_version
        self._acks = acks or AckFirst()
        self._metrics = metrics_app(ledger)

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path, verb = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")

        def counted(status: str, *rest: Any) -> Any:
            count_http(path, status)
            return start(status, *rest)

        return self._route(environ, counted, path, verb)

    def _route(self, environ: dict[str, Any], start: StartResponse, path: str,
               verb: str) -> Iterable[bytes]:
        if path == EVENTS_PATH and verb == "POST":
            if not _TIMESTAMP.fullmatch(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")):
                # Slack sends whole seconds; anything else is forged (Bolt would raise on it).
                return _json(start, "401 Unauthorized", {"ok": False,
                                                         "error": "invalid_request_timestamp"})
            with self._acks.serving():  # decisions yield to requests awaiting their ack
                result: Iterable[bytes] = self._bolt(environ, start)
            return result
        if path == HEALTH_PATH and verb in ("GET", "HEAD"):
            return self._health(start)
        if path == METRICS_PATH and verb == "GET":
            return self._metrics(environ, start)
        return _json(start, "404 Not Found", {"ok": False, "error": "not_found"})

    def _health(self, start: StartResponse) -> Iterable[bytes]:
        try:
            now = self._ledger.probe_write()  # a ledger that only reads cannot record clicks
        except StoreError as exc:
            return _json(start, "503 Service Unavailable",
                         {"ok": False, "database": f"cannot write: {exc}",
                          "config": self._policy_version})
        return _json(start, "200 OK", {"ok": True, "database": "ok", "db_time": now.isoformat(),
                                       "config": self._policy_version})


def _json(start: StartResponse, status: str, doc: dict[str, Any]) -> list[bytes]:
    body = json.dumps(doc).encode()
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class _Counted:
    """A waitress task numbered by :class:`AckFirst` when it was queued."""

    def __init__(self, task: Any, acks: AckFirst) -> None:
        self._task = task
        self._acks = acks
        self._seq = acks.arrive()

    def service(self) -> None:
        with self._acks.serving(self._seq):
            self._task.service()

    def cancel(self) -> None:
        self._acks.answered(self._seq)
        self._task.cancel()

    def defer(self) -> None:
        self._task.defer()


class _Dispatcher(ThreadedTaskDispatcher):
    """waitress's thread pool, numbering each request as it is queued for a thread: a
    burst larger than the pool is waiting in the queue, not yet in any handler."""

    def __init__(self, acks: AckFirst, threads: int) -> None:
        super().__init__()
        self._acks = acks
        self.set_thread_count(threads)

    def add_task(self, task: Any) -> None:
        super().add_task(_Counted(task, self._acks))


class HttpServer:
    """waitress bound to ``host:port`` (port 0 picks a free one); stoppable from any thread.
    With ``acks``, each request counts as awaiting its answer from the moment it is queued."""

    def __init__(self, wsgi: Callable[..., Iterable[bytes]], *, host: str = "127.0.0.1",
                 port: int = 3000, threads: int = 16, acks: AckFirst | None = None,
                 reuse_port: bool = False) -> None:
        # poll(), not select(): the process also holds the agent API's long-polls, and
        # select() fails on any file descriptor above 1024.
        dispatcher = _Dispatcher(acks, threads) if acks is not None else None
        where: dict[str, Any] = ({"sockets": [listening(host, port, reuse_port=True)]}
                                 if reuse_port else {"host": host, "port": port})
        self._server: Any = create_server(wsgi, threads=threads, ident="signoff",
                                          clear_untrusted_proxy_headers=True,
                                          asyncore_use_poll=True, _dispatcher=dispatcher,
                                          **where)
        self.host = host
        self.port = int(self._server.effective_port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        try:
            self._server.run()
        except OSError:  # the listening socket was closed under us: a normal shutdown
            log.debug("server loop ended")

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self.serve_forever, name="signoff-http",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
