"""Socket Mode: Slack's side of the WebSocket an app opens instead of a public request URL.

``apps.connections.open`` (with an app-level ``xapp-`` token) hands out a one-use
``ws://…/link/?ticket=…`` URL. Once the app connects, the sandbox greets it with ``hello`` and
from then on sends what it would have POSTed as envelopes: ``{"envelope_id", "type":
"interactive" | "events_api" | "slash_commands", "payload", "accepts_response_payload"}``
(events also carry ``retry_attempt`` and ``retry_reason``). The app acknowledges each with
``{"envelope_id", "payload"?}`` within the ack deadline, as it would answer HTTP 200.

The server is the ``websockets`` library, imported only when an app asks for a connection.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from bot.sandbox.records import AppResponse, Json

log = logging.getLogger(__name__)

#: Envelope types and whether the app may answer with a payload (Slack's Socket Mode docs).
ENVELOPE_TYPES = {"interaction": "interactive", "event": "events_api",
                  "form": "slash_commands"}
_ACCEPTS_PAYLOAD = {"view_submission", "block_suggestion", "slash_command"}


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    reply: Json | None = None


class SocketLink:
    """The sandbox's Socket Mode endpoint: tickets, live connections and pending acks."""

    def __init__(self, host: str, app_id: str) -> None:
        self.host, self.app_id = host, app_id
        self._lock = threading.Lock()
        self._tickets: set[str] = set()
        self._connections: list[Any] = []
        self._pending: dict[str, _Pending] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.envelopes: list[Json] = []  # everything sent, for tests
        self.acks: list[Json] = []  # everything the app answered

    # -- lifecycle ---------------------------------------------------------------------------

    def open_url(self) -> str:
        """What ``apps.connections.open`` answers: a fresh one-use URL to connect to."""
        self._start()
        ticket = secrets.token_hex(16)
        with self._lock:
            self._tickets.add(ticket)
        return f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1]) if self._server is not None else 0

    @property
    def connected(self) -> bool:
        with self._lock:
            return bool(self._connections)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.connected

    def _start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            from websockets.sync.server import serve

            self._server = serve(self._serve_connection, self.host, 0)
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            name="sandbox-socket-mode", daemon=True)
            self._thread.start()

    def disconnect(self, reason: str = "warning") -> None:
        """Ask every connected app to reconnect elsewhere, as Slack does now and then."""
        for connection in self._live():
            connection.send(json.dumps({"type": "disconnect", "reason": reason,
                                        "debug_info": {"host": "sandbox"}}))

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            for connection in self._live():
                connection.close()
            server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _live(self) -> list[Any]:
        with self._lock:
            return list(self._connections)

    # -- one connection ----------------------------------------------------------------------

    def _serve_connection(self, connection: Any) -> None:
        query = parse_qs(urlparse(connection.request.path).query)
        ticket = (query.get("ticket") or [""])[0]
        with self._lock:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)  # a ticket works once
        if not valid:
            connection.close(code=1008, reason="invalid ticket")
            return
        connection.send(json.dumps({
            "type": "hello", "num_connections": len(self._live()) + 1,
            "debug_info": {"host": "sandbox", "build_number": 1,
                           "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id}}))
        with self._lock:
            self._connections.append(connection)
        try:
            for message in connection:
                self._received(message)
        except Exception:  # the app hung up: that connection is gone, nothing else is
            log.debug("socket mode connection closed", exc_info=True)
        finally:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)

    def _received(self, message: str | bytes) -> None:
        try:
            reply = json.loads(message)
        except ValueError:
            return
        if not isinstance(reply, dict) or "envelope_id" not in reply:
            return
        with self._lock:
            self.acks.append(reply)
            pending = self._pending.get(str(reply["envelope_id"]))
        if pending is not None:
            pending.reply = reply
            pending.done.set()

    # -- deliveries --------------------------------------------------------------------------

    def deliver(self, way: str, kind: str, user: str | None, payload: Json,
                ack_timeout: float, *, retry: tuple[int, str] | None = None) -> AppResponse:
        """Send one envelope and wait for its ack, like an HTTP delivery and its 200."""
        envelope: Json = {"envelope_id": str(uuid.uuid4()), "type": ENVELOPE_TYPES[way],
                          "payload": payload,
                          "accepts_response_payload": kind in _ACCEPTS_PAYLOAD}
        if way == "event":
            envelope.update(retry_attempt=retry[0] if retry else 0,
                            retry_reason=retry[1] if retry else "")
        live = self._live()
        if not live:
            return AppResponse(kind, user, payload, 0, "", 0.0, "connection_failed")
        pending = _Pending()
        with self._lock:
            self._pending[envelope["envelope_id"]] = pending
            self.envelopes.append(envelope)
        started = time.perf_counter()
        try:
            live[-1].send(json.dumps(envelope))
            acked = pending.done.wait(ack_timeout)
        finally:
            with self._lock:
                self._pending.pop(envelope["envelope_id"], None)
        elapsed = time.perf_counter() - started
        if not acked:
            return AppResponse(kind, user, payload, 0, "", elapsed, "ack_timeout")
        answer = (pending.reply or {}).get("payload")
        body = json.dumps(answer) if answer else ""
        return AppResponse(kind, user, payload, 200, body, elapsed)
