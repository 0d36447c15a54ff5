"""Fixtures: a sandbox on port 0 with a manual clock, a WebClient, and app-side HTTP servers."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.sandbox import ManualClock, SlackSandbox

SECRET = "test-signing-secret"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[SlackSandbox]:
    with SlackSandbox(clock=clock, signing_secret=SECRET) as sb:
        yield sb


@pytest.fixture
def client(sandbox: SlackSandbox) -> WebClient:
    return WebClient(base_url=sandbox.api_url, token=sandbox.bot_token)


# -- a real Bolt app over real HTTP ------------------------------------------------------------

class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The sandbox hangs up on acks slower than its deadline, as Slack does; that is expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class BoltServer:
    """Serves a Bolt app at ``url`` (``/slack/events``) the way a deployment would, over HTTP."""

    def __init__(self, app: App) -> None:
        self.httpd = make_server("127.0.0.1", 0, SlackRequestHandler(app),
                                 server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/slack/events"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,),
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def bolt(sandbox: SlackSandbox) -> Iterator[Callable[..., App]]:
    """Make a Bolt app wired to the sandbox; the sandbox delivers to it once it is made."""
    servers: list[BoltServer] = []

    def make(**options: Any) -> App:
        client = WebClient(base_url=sandbox.api_url, token=sandbox.bot_token)
        app = App(signing_secret=SECRET, client=client, **options)
        server = BoltServer(app)
        servers.append(server)
        sandbox.set_request_url(server.url)
        return app

    yield make
    for server in servers:
        server.close()


# -- a bare receiver that records what the sandbox sends ---------------------------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    #: What to answer: (status, body); change it in a test.
    answer: tuple[int, bytes] = (200, b"")

    def payload(self, index: int = -1) -> Any:
        from urllib.parse import parse_qs

        body = self.requests[index].body.decode()
        if body.startswith("{"):
            return json.loads(body)
        return json.loads(parse_qs(body)["payload"][0])


@pytest.fixture
def receiver(sandbox: SlackSandbox) -> Iterator[Receiver]:
    """An app stand-in that records raw requests (to check signatures byte for byte)."""
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            rec = box["r"]
            rec.requests.append(Received(self.path, dict(self.headers.items()),
                                         self.rfile.read(length)))
            status, body = rec.answer
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(f"http://127.0.0.1:{httpd.server_port}/slack/events")
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    sandbox.set_request_url(box["r"].url)
    yield box["r"]
    httpd.shutdown()
    httpd.server_close()

