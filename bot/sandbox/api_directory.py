"""Conversations (open, info, history, replies), users and user groups."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from bot.sandbox.api_base import (
    ApiContext,
    Args,
    bot_channel,
    method,
    require_read_scope,
    require_scope,
)
from bot.sandbox.errors import ApiError
from bot.sandbox.records import Json, Message

MAX_DM_USERS = 8  # Slack: a group DM holds at most 8 people besides the app


@method("conversations.open")
def conversations_open(ctx: ApiContext, args: Args) -> Json:
    existing = args.string("channel")
    if existing is not None:
        channel = ctx.state.resolve_channel(existing)
        return {"no_op": True, "already_open": True, "channel": {"id": channel}}
    users = [u.strip() for u in (args.string("users") or "").split(",") if u.strip()]
    if not users:
        raise ApiError("users_list_not_supplied")
    if len(users) > MAX_DM_USERS:
        raise ApiError("too_many_users")
    require_scope(ctx, "im:write" if len(set(users)) == 1 else "mpim:write")
    found = [ctx.state.workspace.user(u) for u in users]
    if any(u is None for u in found):
        raise ApiError("user_not_found")
    if any(u is not None and u.deleted for u in found):
        raise ApiError("user_disabled")
    already = tuple(sorted(set(users))) in ctx.state.dms
    channel = ctx.state.dm_for(tuple(users))
    info: Json = {"id": channel}
    if args.flag("return_im") and len(set(users)) == 1:
        info.update(is_im=True, user=users[0])
    if not already:
        return {"channel": info}  # Slack adds no_op/already_open only when it was open
    return {"no_op": True, "already_open": True, "channel": info}


@method("conversations.info")
def conversations_info(ctx: ApiContext, args: Args) -> Json:
    channel = bot_channel(ctx, args.string("channel"))
    require_read_scope(ctx, channel, "info")
    found = ctx.state.workspace.channel(channel)
    info: Json = {"id": channel, "is_im": channel.startswith("D"),
                  "is_mpim": channel.startswith("G") and found is None}
    if found is not None:
        info.update(name=found.name, is_channel=not found.is_private,
                    is_group=found.is_private, is_private=found.is_private,
                    is_archived=found.is_archived, is_member=ctx.state.bot_in(channel))
    return {"channel": info}


@method("conversations.join")
def conversations_join(ctx: ApiContext, args: Args) -> Json:
    channel = bot_channel(ctx, args.string("channel"))
    found = ctx.state.workspace.channel(channel)
    if found is None or found.is_private:
        raise ApiError("method_not_supported_for_channel_type")
    if found.is_archived:
        raise ApiError("is_archived")
    info: Json = {"id": channel, "name": found.name, "is_channel": True, "is_private": False,
                  "is_archived": False, "is_member": True}
    if ctx.state.bot_in(channel):
        return {"channel": info, "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]}}
    ctx.state.add_bot(channel)
    return {"channel": info}


@method("conversations.history")
def conversations_history(ctx: ApiContext, args: Args) -> Json:
    channel = bot_channel(ctx, args.string("channel"))
    require_read_scope(ctx, channel, "history")
    messages = [m for m in ctx.state.top_level(channel) if _in_range(m, args)]
    messages.reverse()  # Slack lists history newest first
    return _page(messages, args, default_limit=100)


@method("conversations.replies")
def conversations_replies(ctx: ApiContext, args: Args) -> Json:
    channel = bot_channel(ctx, args.string("channel"))
    require_read_scope(ctx, channel, "history")
    msg = ctx.state.message(channel, args.string("ts") or "")
    if msg is None:
        raise ApiError("thread_not_found")
    thread = ctx.state.thread(channel, msg.thread_ts or msg.ts)
    return _page([m for m in thread if _in_range(m, args)], args, default_limit=1000)


@method("users.info")
def users_info(ctx: ApiContext, args: Args) -> Json:
    user = ctx.state.workspace.user(args.string("user") or "")
    if user is None:
        raise ApiError("user_not_found")
    return {"user": user.to_slack(ctx.state.workspace.team_id, ctx.state.clock())}


@method("users.lookupByEmail")
def users_lookup_by_email(ctx: ApiContext, args: Args) -> Json:
    user = ctx.state.workspace.user_by_email(args.string("email") or "")
    if user is None:
        raise ApiError("users_not_found")  # sic: Slack's error name for this method
    return {"user": user.to_slack(ctx.state.workspace.team_id, ctx.state.clock())}


@method("usergroups.users.list")
def usergroups_users_list(ctx: ApiContext, args: Args) -> Json:
    members = ctx.state.workspace.usergroups.get(args.string("usergroup") or "")
    if members is None:
        raise ApiError("no_such_subteam")
    return {"users": list(members)}


def _in_range(msg: Message, args: Args) -> bool:
    oldest, latest = args.string("oldest"), args.string("latest")
    inclusive = args.flag("inclusive")
    ts = float(msg.ts)
    if oldest is not None and (ts < float(oldest) or (ts == float(oldest) and not inclusive)):
        return False
    return latest is None or ts < float(latest) or (ts == float(latest) and inclusive)


def _page(messages: Sequence[Message], args: Args, default_limit: int) -> Json:
    """Cursor pagination as Slack does it: an opaque ``next_cursor`` while there is more."""
    limit = max(1, min(args.number("limit", default_limit), 1000))
    start = _decode_cursor(args.string("cursor"))
    page = messages[start:start + limit]
    more = start + limit < len(messages)
    cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
    return {"messages": [m.data for m in page], "has_more": more,
            "response_metadata": {"next_cursor": cursor}}


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("next:"))
    except ValueError:
        raise ApiError("invalid_cursor") from None
