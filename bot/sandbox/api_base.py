"""Plumbing shared by the Web API method handlers: the registry, arguments and HTTP replies."""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from bot.sandbox.blockkit import validate_message_blocks, validate_view
from bot.sandbox.errors import ApiError
from bot.sandbox.faults import RateLimiter, TierLimiter
from bot.sandbox.records import Json
from bot.sandbox.state import SandboxState

#: Arguments that Slack accepts as JSON text inside a form-encoded body.
JSON_ARGS = ("blocks", "attachments", "view", "metadata")


@dataclass
class ApiContext:
    state: SandboxState
    limiter: RateLimiter
    base_url: str
    tiers: TierLimiter | None = None


class Args:
    """Request arguments with Slack's coercions (form strings for booleans and JSON fields)."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)

    def __contains__(self, name: str) -> bool:
        return name in self.raw

    def string(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    def number(self, name: str, default: int) -> int:
        try:
            return int(self.raw.get(name, default))
        except (TypeError, ValueError):
            message = f"[ERROR] must be an integer [json-pointer:/{name}]"
            raise ApiError("invalid_arguments", [message]) from None

    def json(self, name: str, error: str = "invalid_arguments") -> Any:
        """A JSON argument, decoding it when it came as text inside a form."""
        value = self.raw.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ApiError(error, [f"[ERROR] invalid JSON [json-pointer:/{name}]"]) from None


#: The bot scope each method needs, as Slack's method docs list them. Methods whose scope
#: depends on the kind of conversation check it themselves (:func:`require_scope`).
SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",), "chat.update": ("chat:write",),
    "chat.delete": ("chat:write",), "chat.postEphemeral": ("chat:write",),
    "conversations.join": ("channels:join",), "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "usergroups.users.list": ("usergroups:read",),
}
#: Scopes by kind of conversation for the read methods: public, private, DM, group DM.
READ_SCOPES = {"info": ("channels:read", "groups:read", "im:read", "mpim:read"),
               "history": ("channels:history", "groups:history", "im:history",
                           "mpim:history")}


def has_scope(ctx: ApiContext, scope: str) -> bool:
    granted = ctx.state.workspace.bot_scopes
    return granted is None or scope in granted


def require_scope(ctx: ApiContext, *needed: str) -> None:
    """Slack's ``missing_scope``, naming what was ``needed`` and what the token has."""
    granted = ctx.state.workspace.bot_scopes
    if granted is None or any(scope in granted for scope in needed):
        return
    raise ApiError("missing_scope", needed=",".join(needed), provided=",".join(granted))


def require_read_scope(ctx: ApiContext, channel: str, kind: str) -> None:
    """The read scope for ``channel``'s kind of conversation (``kind``: info or history)."""
    public, private, im, mpim = READ_SCOPES[kind]
    found = ctx.state.workspace.channel(channel)
    if found is not None:
        require_scope(ctx, private if found.is_private else public)
    else:
        require_scope(ctx, im if channel.startswith("D") else mpim)


def bot_channel(ctx: ApiContext, value: str | None) -> str:
    """A conversation the app can see: Slack answers ``channel_not_found`` for a private
    channel the app's bot user is not in, as for one that does not exist."""
    channel = ctx.state.resolve_channel(value)
    found = ctx.state.workspace.channel(channel)
    if found is not None and found.is_private and not ctx.state.bot_in(channel):
        raise ApiError("channel_not_found")
    return channel


Handler = Callable[[ApiContext, Args], Json]
HANDLERS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for a Web API method; it returns the response minus ``ok``."""

    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        return handler

    return register


@dataclass
class HttpReply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, obj: object, headers: Mapping[str, str] | None = None) -> HttpReply:
        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status, json.dumps(obj).encode(), all_headers)

    def parsed(self) -> Json:
        try:
            value = json.loads(self.body or b"{}")
        except json.JSONDecodeError:
            return {"raw": self.body.decode(errors="replace")}
        return value if isinstance(value, dict) else {"value": value}


def parse_body(content_type: str, query: str, body: bytes) -> dict[str, Any]:
    """Arguments from the query string and a JSON, form-encoded or multipart body."""
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" and body.strip():
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ApiError("invalid_json")
        args.update(decoded)
    elif kind == "multipart/form-data":
        args.update(_multipart(content_type, body))
    elif body:
        args.update(parse_qsl(body.decode(), keep_blank_values=True))
    return args


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode(errors="replace")
    return fields


def bearer_token(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization") or ""
    if not auth.lower().startswith("bearer "):
        return None
    return auth[7:].strip() or None


def readable_args(raw: Mapping[str, Any]) -> Json:
    """Arguments as recorded for tests: JSON text decoded, the token left out."""
    args = {k: v for k, v in raw.items() if k != "token"}
    for name in JSON_ARGS:
        if isinstance(args.get(name), str):
            with contextlib.suppress(json.JSONDecodeError):
                args[name] = json.loads(args[name])
    return args


def message_content(args: Args, max_text: int) -> tuple[str, list[Json] | None, Any]:
    """Text, blocks and attachments of a message, checked like Slack does."""
    text = args.string("text") or ""
    blocks = args.json("blocks", error="invalid_blocks_format")
    attachments = args.json("attachments", error="invalid_attachments")
    if blocks is not None and not isinstance(blocks, list):
        raise ApiError("invalid_blocks_format")
    if not text and not blocks and not attachments:
        raise ApiError("no_text")
    if len(text) > max_text:
        raise ApiError("msg_too_long")
    if blocks:
        check_blocks(blocks)
    return text, blocks, attachments


def check_blocks(blocks: object) -> None:
    errors = validate_message_blocks(blocks)
    if errors:
        raise ApiError("invalid_blocks", [str(e) for e in errors])


def check_view(view: object, kinds: tuple[str, ...]) -> Json:
    """A valid view of one of ``kinds``; Slack answers ``invalid_arguments`` for a bad view."""
    errors = [str(e) for e in validate_view(view)]
    if not errors and isinstance(view, dict) and view.get("type") not in kinds:
        errors = [f"[ERROR] must be one of: {', '.join(kinds)} [json-pointer:/view/type]"]
    if errors or not isinstance(view, dict):
        raise ApiError("invalid_arguments", errors)
    return view
