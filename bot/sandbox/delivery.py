"""Signing and sending requests to the app, the way Slack does.

Slack signs every request with ``v0=hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body))``
and gives the app 3 seconds to answer with HTTP 200.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from bot.sandbox.clock import Clock
from bot.sandbox.errors import SandboxError
from bot.sandbox.records import AppResponse, Json
from bot.sandbox.socket_mode import SocketLink

ACK_TIMEOUT = 3.0  # Slack: interactivity and events must be acknowledged within 3 seconds
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Forgery:
    """Ways to spoil a request so an app's verification can be tested.

    ``secret`` signs with another secret, ``age`` back-dates the timestamp by that many seconds,
    ``tamper`` changes the body after signing, ``signature`` is sent verbatim.
    """

    secret: str | None = None
    age: float = 0.0
    tamper: bool = False
    signature: str | None = None


class Deliverer:
    def __init__(self, signing_secret: str, signing_clock: Clock = time.time,
                 ack_timeout: float = ACK_TIMEOUT) -> None:
        self.signing_secret = signing_secret
        self.signing_clock = signing_clock
        self.ack_timeout = ack_timeout
        self.request_url: str | None = None
        self.events_url: str | None = None
        #: While an app is connected over Socket Mode, everything goes there instead.
        self.socket: SocketLink | None = None

    def _over_socket(self) -> SocketLink | None:
        return self.socket if self.socket is not None and self.socket.connected else None

    def interaction(self, kind: str, user: str | None, payload: Json,
                    forgery: Forgery | None = None) -> AppResponse:
        """Interactivity: ``payload=<json>`` form-encoded, to the request URL."""
        if (link := self._over_socket()) is not None:
            return link.deliver("interaction", kind, user, payload, self.ack_timeout)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(kind, user, payload, body, "application/x-www-form-urlencoded",
                         self._url(self.request_url), forgery)

    def event(self, kind: str, payload: Json, forgery: Forgery | None = None, *,
              retry: tuple[int, str] | None = None) -> AppResponse:
        """Events API: a JSON body, to the events URL (the request URL unless set apart).
        ``retry``: (attempt, reason) of a redelivery, sent as ``X-Slack-Retry-Num`` and
        ``X-Slack-Retry-Reason`` (over Socket Mode: ``retry_attempt``, ``retry_reason``)."""
        if kind != "url_verification" and (link := self._over_socket()) is not None:
            return link.deliver("event", kind, None, payload, self.ack_timeout, retry=retry)
        body = json.dumps(payload).encode()
        url = self._url(self.events_url or self.request_url)
        extra = {"X-Slack-Retry-Num": str(retry[0]), "X-Slack-Retry-Reason": retry[1]} if retry \
            else {}
        return self.post(kind, None, payload, body, "application/json", url, forgery, extra)

    def form(self, kind: str, user: str | None, fields: dict[str, str],
             forgery: Forgery | None = None) -> AppResponse:
        """A plain form post (slash commands)."""
        if (link := self._over_socket()) is not None:
            return link.deliver("form", kind, user, dict(fields), self.ack_timeout)
        body = urlencode(fields).encode()
        return self.post(kind, user, dict(fields), body, "application/x-www-form-urlencoded",
                         self._url(self.request_url), forgery)

    def post(self, kind: str, user: str | None, payload: Json | None, body: bytes,
             content_type: str, url: str, forgery: Forgery | None = None,
             extra_headers: dict[str, str] | None = None) -> AppResponse:
        headers = self.signed_headers(body, forgery or Forgery())
        headers.update({"Content-Type": content_type, "User-Agent": USER_AGENT,
                        **(extra_headers or {})})
        if forgery is not None and forgery.tamper:
            body = _tampered(body, content_type)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        started = time.perf_counter()
        status, text, reply_headers, error = self._send(request)
        elapsed = time.perf_counter() - started
        if error is None and elapsed > self.ack_timeout:
            error = "ack_timeout"
        return AppResponse(kind, user, payload, status, text, elapsed, error, reply_headers)

    def signed_headers(self, body: bytes, forgery: Forgery) -> dict[str, str]:
        timestamp = str(int(self.signing_clock() - forgery.age))
        signature = forgery.signature or sign(forgery.secret or self.signing_secret,
                                              timestamp, body)
        return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}

    def _send(self, request: urllib.request.Request) -> tuple[int, str, dict[str, str], str | None]:
        try:
            with urllib.request.urlopen(request, timeout=self.ack_timeout) as response:
                text = response.read().decode(errors="replace")
                status = response.status
                headers = dict(response.headers.items())
        except urllib.error.HTTPError as failed:
            text = failed.read().decode(errors="replace")
            return failed.code, text, dict(failed.headers.items()), f"http_{failed.code}"
        except TimeoutError:
            return 0, "", {}, "ack_timeout"
        except urllib.error.URLError as failed:
            timed_out = isinstance(failed.reason, TimeoutError)
            return 0, "", {}, "ack_timeout" if timed_out else "connection_failed"
        except ConnectionError:
            return 0, "", {}, "connection_failed"
        return status, text, headers, None if status == 200 else f"http_{status}"

    @staticmethod
    def _url(url: str | None) -> str:
        if not url:
            raise SandboxError("no request URL is configured for the app")
        return url


def _tampered(body: bytes, content_type: str) -> bytes:
    """The body with one extra field, as an attacker altering a signed request would."""
    if content_type == "application/json":
        return b'{"tampered":true,' + body[1:] if body.startswith(b"{") else body + b" "
    return body + b"&tampered=1"
