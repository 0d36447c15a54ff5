"""``response_url``: what an app may POST back after an interaction (5 times, 30 minutes)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from bot.sandbox.api_base import ApiContext, Args, HttpReply, message_content
from bot.sandbox.api_chat import MAX_POST_TEXT, bot_message
from bot.sandbox.errors import ApiError
from bot.sandbox.records import Json, Message
from bot.sandbox.state import RESPONSE_URL_TTL, RESPONSE_URL_USES, ResponseUrl

RESPONSE_PATH = "/actions/"


def response_url_for(ctx: ApiContext, key: str) -> str:
    ws = ctx.state.workspace
    return f"{ctx.base_url}{RESPONSE_PATH}{ws.team_id}/{key}"


def handle_response_url(ctx: ApiContext, path: str, body: bytes) -> HttpReply:
    key = path.rsplit("/", 1)[-1]
    with ctx.state.lock:
        url = ctx.state.response_urls.get(key)
        failure = _usable(ctx, url)
        if failure is not None or url is None:
            return HttpReply.json(404, {"ok": False, "error": failure or "invalid_url"})
        url.uses += 1
        try:
            _apply(ctx, url, _payload(body))
        except ApiError as err:
            return HttpReply.json(400, err.body())
        ctx.state.touch()
    return HttpReply.json(200, {"ok": True})


def _usable(ctx: ApiContext, url: ResponseUrl | None) -> str | None:
    if url is None:
        return "invalid_url"
    if ctx.state.clock() - url.issued_at > RESPONSE_URL_TTL:
        return "expired_url"
    if url.uses >= RESPONSE_URL_USES:
        return "used_url"
    return None


def _payload(body: bytes) -> Json:
    text = body.decode(errors="replace")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        form = dict(parse_qsl(text))
        data = json.loads(form["payload"]) if "payload" in form else None
    if not isinstance(data, dict):
        raise ApiError("invalid_payload")
    return data


def _apply(ctx: ApiContext, url: ResponseUrl, payload: Json) -> None:
    original = _original(ctx, url)
    if _truthy(payload.get("delete_original")):
        if original is not None:
            ctx.state.delete_message(original)
        return
    text, blocks, attachments = message_content(Args(payload), MAX_POST_TEXT)
    data = bot_message(ctx, text, blocks, attachments)
    if _truthy(payload.get("replace_original")) and original is not None:
        data["ts"] = original.ts
        for key in ("thread_ts",):
            if key in original.data:
                data[key] = original.data[key]
        ctx.state.replace_message(original, data)
    elif payload.get("response_type") == "in_channel":
        if payload.get("thread_ts"):
            data["thread_ts"] = str(payload["thread_ts"])
        ctx.state.add_message(url.channel, data)
    else:
        # Slack's default for a response is a message only the clicking user sees.
        if payload.get("thread_ts"):
            data["thread_ts"] = str(payload["thread_ts"])
        ctx.state.add_message(url.channel, data, ephemeral_user=url.user)


def _original(ctx: ApiContext, url: ResponseUrl) -> Message | None:
    if url.message_ts is None:
        return None
    if url.ephemeral:
        return ctx.state.ephemeral(url.channel, url.message_ts)
    return ctx.state.message(url.channel, url.message_ts)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
