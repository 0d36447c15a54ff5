"""``auth.test`` and the ``chat.*`` methods."""

from __future__ import annotations

from typing import Any

from bot.sandbox.api_base import (
    ApiContext,
    Args,
    bot_channel,
    has_scope,
    message_content,
    method,
)
from bot.sandbox.errors import ApiError, RateLimited
from bot.sandbox.records import Json, Message

MAX_POST_TEXT = 40_000  # Slack: chat.postMessage text limit
MAX_UPDATE_TEXT = 4_000  # Slack: chat.update text limit


@method("auth.test")
def auth_test(ctx: ApiContext, args: Args) -> Json:
    ws = ctx.state.workspace
    return {"url": f"https://{ws.team_domain}.slack.com/", "team": ws.team_domain,
            "user": ws.bot_name, "team_id": ws.team_id, "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id, "app_id": ws.api_app_id, "is_enterprise_install": False}


@method("chat.postMessage")
def post_message(ctx: ApiContext, args: Args) -> Json:
    channel = bot_channel(ctx, args.string("channel"))
    _require_postable(ctx, channel, public_ok=has_scope(ctx, "chat:write.public"))
    text, blocks, attachments = message_content(args, MAX_POST_TEXT)
    wait = ctx.limiter.retry_after(channel)
    if wait is not None:
        raise RateLimited(wait)
    data = bot_message(ctx, text, blocks, attachments)
    _thread_fields(args, data)
    msg = ctx.state.add_message(channel, data)
    return {"channel": channel, "ts": msg.ts, "message": msg.data}


@method("chat.update")
def update_message(ctx: ApiContext, args: Args) -> Json:
    channel = bot_channel(ctx, args.string("channel"))
    msg = _own_message(ctx, channel, args.string("ts"))
    merged = Args({"text": msg.text, "blocks": msg.data.get("blocks"),
                   "attachments": msg.data.get("attachments"),
                   **{k: v for k, v in args.raw.items() if k in ("text", "blocks", "attachments")}})
    # Slack keeps fields that are left out; an empty blocks array removes the blocks.
    text, blocks, attachments = message_content(merged, MAX_UPDATE_TEXT)
    data = {**msg.data, "text": text}
    _set_optional(data, "blocks", blocks)
    _set_optional(data, "attachments", attachments)
    data["edited"] = {"user": ctx.state.workspace.bot_user_id, "ts": ctx.state.new_ts()}
    ctx.state.replace_message(msg, data)
    return {"channel": channel, "ts": msg.ts, "text": text, "message": msg.data}


@method("chat.delete")
def delete_message(ctx: ApiContext, args: Args) -> Json:
    channel = bot_channel(ctx, args.string("channel"))
    msg = _own_message(ctx, channel, args.string("ts"), error="cant_delete_message")
    ctx.state.delete_message(msg)
    return {"channel": channel, "ts": msg.ts}


@method("chat.postEphemeral")
def post_ephemeral(ctx: ApiContext, args: Args) -> Json:
    channel = bot_channel(ctx, args.string("channel"))
    user = args.string("user")
    members = ctx.state.channel_members(channel)
    # Slack answers an unknown user as one who is not in the channel.
    if user is None or ctx.state.workspace.user(user) is None or (
            members is not None and user not in members):
        raise ApiError("user_not_in_channel")
    _require_postable(ctx, channel, public_ok=False)
    text, blocks, attachments = message_content(args, MAX_POST_TEXT)
    data = bot_message(ctx, text, blocks, attachments)
    if args.string("thread_ts"):
        data["thread_ts"] = args.string("thread_ts")
    msg = ctx.state.add_message(channel, data, ephemeral_user=user)
    return {"message_ts": msg.ts}


@method("chat.getPermalink")
def get_permalink(ctx: ApiContext, args: Args) -> Json:
    channel = bot_channel(ctx, args.string("channel"))
    msg = ctx.state.message(channel, args.string("message_ts") or "")
    if msg is None:
        raise ApiError("message_not_found")
    return {"channel": channel, "permalink": permalink(ctx, msg)}


def permalink(ctx: ApiContext, msg: Message) -> str:
    link = (f"https://{ctx.state.workspace.team_domain}.slack.com/archives/{msg.channel}"
            f"/p{msg.ts.replace('.', '')}")
    if msg.is_reply:
        link += f"?thread_ts={msg.thread_ts}&cid={msg.channel}"
    return link


def bot_message(ctx: ApiContext, text: str, blocks: list[Json] | None, attachments: Any) -> Json:
    """A message as Slack stores one the app posted with its bot token."""
    ws = ctx.state.workspace
    data: Json = {
        "type": "message", "user": ws.bot_user_id, "bot_id": ws.bot_id, "app_id": ws.api_app_id,
        "team": ws.team_id, "text": text, "ts": ctx.state.new_ts(),
        "bot_profile": {"id": ws.bot_id, "app_id": ws.api_app_id, "name": ws.bot_name,
                        "team_id": ws.team_id, "deleted": False},
    }
    _set_optional(data, "blocks", blocks)
    _set_optional(data, "attachments", attachments)
    return data


def _thread_fields(args: Args, data: Json) -> None:
    thread_ts = args.string("thread_ts")
    if thread_ts:
        data["thread_ts"] = thread_ts
        if args.flag("reply_broadcast"):
            data["subtype"] = "thread_broadcast"
    metadata = args.json("metadata", error="invalid_metadata_format")
    if metadata:
        data["metadata"] = metadata


def _own_message(ctx: ApiContext, channel: str, ts: str | None,
                 error: str = "cant_update_message") -> Message:
    msg = ctx.state.message(channel, ts or "")
    if msg is None:
        raise ApiError("message_not_found")
    if msg.data.get("bot_id") != ctx.state.workspace.bot_id:
        raise ApiError(error)
    return msg


def _require_postable(ctx: ApiContext, channel: str, *, public_ok: bool) -> None:
    """Slack's rules for posting: not in an archived channel, and only where the bot user is
    a member, except in public channels with ``chat:write.public`` (``public_ok``)."""
    found = ctx.state.workspace.channel(channel)
    if found is not None and found.is_archived:
        raise ApiError("is_archived")
    if ctx.state.bot_in(channel):
        return
    if not (public_ok and found is not None and not found.is_private):
        raise ApiError("not_in_channel")


def _set_optional(data: Json, key: str, value: Any) -> None:
    if value:
        data[key] = value
    else:
        data.pop(key, None)
