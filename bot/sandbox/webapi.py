"""Dispatch of Web API requests: faults, authentication, handlers, recording."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from bot.sandbox import api_chat, api_directory, api_views
from bot.sandbox.api_base import (
    HANDLERS,
    SCOPES,
    ApiContext,
    Args,
    HttpReply,
    bearer_token,
    parse_body,
    readable_args,
    require_scope,
)
from bot.sandbox.errors import ApiError, RateLimited
from bot.sandbox.faults import Fault, FaultInjector
from bot.sandbox.records import ApiCall
from bot.sandbox.socket_mode import SocketLink

# The handler modules register themselves on import.
__all__ = ["METHODS", "WebApi"]
_REGISTERED = (api_chat, api_directory, api_views)
METHODS = tuple(sorted(HANDLERS))


class WebApi:
    def __init__(self, ctx: ApiContext, faults: FaultInjector,
                 socket: SocketLink | None = None) -> None:
        self.ctx = ctx
        self.faults = faults
        self.socket = socket

    def handle(self, method: str, headers: Mapping[str, str], query: str, body: bytes) -> HttpReply:
        """Answer one Web API request and record it, whatever the outcome."""
        raw: dict[str, Any] = {}
        try:
            raw = parse_body(headers.get("content-type", ""), query, body)
            token = bearer_token(headers) or raw.get("token")
            reply = self._answer(method, raw, token if isinstance(token, str) else None)
        except ApiError as err:
            token, reply = None, HttpReply.json(200, err.body())
        except (ValueError, UnicodeDecodeError):
            token, reply = None, HttpReply.json(200, {"ok": False, "error": "invalid_form_data"})
        self._record(method, raw, token, reply)
        return reply

    def _answer(self, method: str, raw: dict[str, Any], token: str | None) -> HttpReply:
        fault = self.faults.take(method)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # real time on purpose: the client's timeouts are real
        if fault is not None and not fault.passes_through:
            return _fault_reply(fault)
        try:
            if method == "apps.connections.open":
                return HttpReply.json(200, {"ok": True, "url": self._socket_url(token)})
            self._authenticate(token)
            handler = HANDLERS.get(method)
            if handler is None:
                raise ApiError("unknown_method")
            if method in SCOPES:
                require_scope(self.ctx, *SCOPES[method])
            wait = self.ctx.tiers.retry_after(method) if self.ctx.tiers else None
            if wait is not None:
                raise RateLimited(wait)
            with self.ctx.state.lock:
                result = handler(self.ctx, Args(raw))
            return HttpReply.json(200, {"ok": True, **result})
        except ApiError as err:
            return HttpReply.json(200, err.body())
        except RateLimited as limited:
            return HttpReply.json(429, {"ok": False, "error": "ratelimited"},
                                  {"Retry-After": str(limited.retry_after)})

    def _socket_url(self, token: str | None) -> str:
        """``apps.connections.open`` takes only an app-level token (``connections:write``)."""
        if not token:
            raise ApiError("not_authed")
        if token in self.ctx.state.workspace.bot_tokens:
            raise ApiError("not_allowed_token_type")
        if token not in self.ctx.state.workspace.app_tokens or self.socket is None:
            raise ApiError("invalid_auth")
        return self.socket.open_url()

    def _authenticate(self, token: str | None) -> None:
        if not token:
            raise ApiError("not_authed")
        if token not in self.ctx.state.workspace.bot_tokens:
            raise ApiError("invalid_auth")

    def _record(self, method: str, raw: Mapping[str, Any], token: Any, reply: HttpReply) -> None:
        state = self.ctx.state
        with state.lock:
            call = ApiCall(seq=len(state.calls) + 1, method=method, args=readable_args(raw),
                           status=reply.status, response=reply.parsed(), at=state.clock(),
                           token=token if isinstance(token, str) else None)
            state.calls.append(call)
            state.touch()


def _fault_reply(fault: Fault) -> HttpReply:
    if fault.error is not None:
        return HttpReply.json(200, {"ok": False, "error": fault.error})
    if fault.retry_after is not None:
        return HttpReply.json(429, {"ok": False, "error": "ratelimited"},
                              {"Retry-After": str(fault.retry_after)})
    status = fault.status or 500
    body = json.dumps({"ok": False, "error": f"http_{status}"}).encode()
    return HttpReply(status, body, {"Content-Type": "application/json; charset=utf-8"})
