"""Payloads Slack sends to apps: block_actions, view_submission, view_closed, events, commands."""

from __future__ import annotations

import copy
from typing import Any

from bot.sandbox.records import Json, Message, View
from bot.sandbox.surface import Located
from bot.sandbox.workspace import Workspace


def user_json(ws: Workspace, user_id: str) -> Json:
    user = ws.user(user_id)
    name = user.name if user else user_id
    return {"id": user_id, "username": name, "name": name, "team_id": ws.team_id}


def team_json(ws: Workspace) -> Json:
    return {"id": ws.team_id, "domain": ws.team_domain}


def _common(ws: Workspace, token: str, kind: str, user: str) -> Json:
    return {"type": kind, "user": user_json(ws, user), "api_app_id": ws.api_app_id,
            "token": token, "team": team_json(ws), "enterprise": None,
            "is_enterprise_install": False}


def action_json(loc: Located, action_ts: str, selection: Json | None = None) -> Json:
    """One entry of ``actions``: a button's text/value/style, or a selection's new value."""
    element = loc.element
    action: Json = {"type": element.get("type"), "action_id": loc.action_id,
                    "block_id": loc.block_id, "action_ts": action_ts}
    for key in ("text", "value", "style", "url"):
        if key in element:
            action[key] = copy.deepcopy(element[key])
    if selection is not None:
        action.update({k: v for k, v in selection.items() if k != "type"})
    return action


def message_actions(ws: Workspace, token: str, user: str, msg: Message, action: Json, *,
                    state: dict[str, Any], response_url: str, trigger_id: str) -> Json:
    container: Json = {"type": "message", "message_ts": msg.ts, "channel_id": msg.channel,
                       "is_ephemeral": msg.ephemeral_user is not None}
    if msg.thread_ts:
        container["thread_ts"] = msg.thread_ts
    payload = _common(ws, token, "block_actions", user)
    payload.update(container=container, trigger_id=trigger_id,
                   channel={"id": msg.channel, "name": _channel_name(ws, msg.channel)},
                   state={"values": state}, response_url=response_url, actions=[action])
    if msg.ephemeral_user is None:
        payload["message"] = copy.deepcopy(msg.data)  # Slack leaves it out for ephemerals
    return payload


def view_actions(ws: Workspace, token: str, user: str, view: View, action: Json, *,
                 trigger_id: str) -> Json:
    payload = _common(ws, token, "block_actions", user)
    payload.update(container={"type": "view", "view_id": view.id}, trigger_id=trigger_id,
                   view=view.slack_view(), actions=[action])
    return payload


def view_submission(ws: Workspace, token: str, user: str, view: View, *,
                    trigger_id: str) -> Json:
    payload = _common(ws, token, "view_submission", user)
    payload.update(trigger_id=trigger_id, view=view.slack_view(), response_urls=[])
    return payload


def view_closed(ws: Workspace, token: str, user: str, view: View, *, is_cleared: bool) -> Json:
    payload = _common(ws, token, "view_closed", user)
    payload.update(view=view.slack_view(), is_cleared=is_cleared)
    return payload


def event_callback(ws: Workspace, token: str, event: Json, *, event_id: str,
                   event_time: int) -> Json:
    return {
        "token": token, "team_id": ws.team_id, "api_app_id": ws.api_app_id, "event": event,
        "type": "event_callback", "event_id": event_id, "event_time": event_time,
        "authorizations": [{"enterprise_id": None, "team_id": ws.team_id,
                            "user_id": ws.bot_user_id, "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False, "event_context": f"4-{event_id}",
    }


def slash_command(ws: Workspace, token: str, user: str, channel: str, command: str, text: str,
                  *, response_url: str, trigger_id: str) -> dict[str, str]:
    found = ws.user(user)
    return {
        "token": token, "team_id": ws.team_id, "team_domain": ws.team_domain,
        "channel_id": channel, "channel_name": _channel_name(ws, channel), "user_id": user,
        "user_name": found.name if found else user, "command": command, "text": text,
        "api_app_id": ws.api_app_id, "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": trigger_id,
    }


def url_verification(token: str, challenge: str) -> Json:
    return {"token": token, "challenge": challenge, "type": "url_verification"}


def _channel_name(ws: Workspace, channel: str) -> str:
    found = ws.channel(channel)
    if found is not None:
        return found.name
    return "directmessage" if channel.startswith("D") else "mpdm"
