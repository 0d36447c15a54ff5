"""The sandbox's memory: messages, views, triggers, response URLs, calls and deliveries.

One re-entrant lock guards everything; every change bumps ``version`` and wakes long-pollers.
Delivery to the app never happens under the lock, since the app calls back into the Web API
while it handles a request.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from bot.sandbox.clock import Clock
from bot.sandbox.errors import ApiError
from bot.sandbox.records import ApiCall, AppResponse, Json, Message, View
from bot.sandbox.surface import fill_ids, initial_state, is_empty
from bot.sandbox.workspace import Workspace

TRIGGER_TTL = 3.0  # seconds; Slack: a trigger_id expires 3 s after the user's action
RESPONSE_URL_TTL = 30 * 60.0  # Slack: a response_url may be used for 30 minutes ...
RESPONSE_URL_USES = 5  # ... and at most 5 times
MAX_VIEW_STACK = 3  # Slack: views.push can stack at most 3 modals

_Result = TypeVar("_Result", bound=AppResponse)


@dataclass
class Trigger:
    user: str
    issued_at: float
    used: bool = False


@dataclass
class ResponseUrl:
    user: str
    channel: str
    message_ts: str | None
    ephemeral: bool
    issued_at: float
    uses: int = 0


class SandboxState:
    def __init__(self, workspace: Workspace, clock: Clock) -> None:
        self.workspace = workspace
        self.clock = clock
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self.version = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.calls: list[ApiCall] = []
            self.messages: dict[tuple[str, str], Message] = {}
            self.channel_order: dict[str, list[str]] = {}
            self.ephemerals: list[Message] = []
            self.dms: dict[tuple[str, ...], str] = {}
            self.views: dict[str, View] = {}
            self.stacks: dict[str, list[str]] = {}
            self.homes: dict[str, str] = {}
            self.triggers: dict[str, Trigger] = {}
            self.response_urls: dict[str, ResponseUrl] = {}
            self.deliveries: list[AppResponse] = []
            self.message_values: dict[tuple[str, str, str], dict[str, dict[str, Json]]] = {}
            self._last_ts_us = 0
            self._counter = 0
            bot = self.workspace.bot_user_id
            #: Channels the bot user is in (invited, or joined with conversations.join).
            self.bot_channels = {c.id for c in self.workspace.channels if c.bot_is_member(bot)}
            self.touch()

    # -- change tracking ---------------------------------------------------------------------

    def touch(self) -> int:
        with self.lock:
            self.version += 1
            self._changed.notify_all()
            return self.version

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until ``version`` exceeds ``since`` or the timeout passes; return ``version``."""
        with self._changed:
            self._changed.wait_for(lambda: self.version > since, timeout=timeout)
            return self.version

    # -- ids ---------------------------------------------------------------------------------

    def new_ts(self) -> str:
        """A Slack message timestamp from the clock, strictly increasing so it stays unique."""
        with self.lock:
            now_us = max(int(self.clock() * 1_000_000), self._last_ts_us + 1)
            self._last_ts_us = now_us
            return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        with self.lock:
            self._counter += 1
            return f"{prefix}0{self._counter:08X}"

    def block_id(self) -> str:
        return self.new_id("sbx").lower()

    # -- channels ----------------------------------------------------------------------------

    def resolve_channel(self, value: str | None) -> str:
        """Channel id for an id, a ``#name``, a DM id or a user id (the bot's DM with that user)."""
        if not value:
            raise ApiError("channel_not_found")
        channel = self.workspace.channel(value)
        if channel is not None:
            return channel.id
        if value in self.dms.values():
            return value
        if self.workspace.user(value) is not None:
            return self.dm_for((value,))
        raise ApiError("channel_not_found")

    def dm_for(self, users: tuple[str, ...]) -> str:
        """A stable DM (one user) or group DM (several) id for a set of users."""
        key = tuple(sorted(set(users)))
        with self.lock:
            if key not in self.dms:
                digest = hashlib.sha1(",".join(key).encode()).hexdigest().upper()[:10]
                self.dms[key] = ("D" if len(key) == 1 else "G") + digest
            return self.dms[key]

    def bot_in(self, channel: str) -> bool:
        """Is the app's bot user in this conversation? (Always in its own DMs.)"""
        with self.lock:
            return channel in self.bot_channels or channel in self.dms.values()

    def add_bot(self, channel: str) -> None:
        """The bot joins (``conversations.join``) or is invited (``/invite @app``)."""
        with self.lock:
            self.bot_channels.add(channel)
            self.touch()

    def remove_bot(self, channel: str) -> None:
        with self.lock:
            self.bot_channels.discard(channel)
            self.touch()

    def channel_members(self, channel: str) -> tuple[str, ...] | None:
        """Members of a channel, or None for a public channel everyone is in."""
        for members, dm in self.dms.items():
            if dm == channel:
                return (*members, self.workspace.bot_user_id)
        found = self.workspace.channel(channel)
        return found.members if found else None

    # -- messages ----------------------------------------------------------------------------

    def add_message(self, channel: str, data: Json, ephemeral_user: str | None = None) -> Message:
        with self.lock:
            data = self._with_ids(data)
            msg = Message(channel, str(data["ts"]), data, ephemeral_user=ephemeral_user)
            if ephemeral_user is not None:
                self.ephemerals.append(msg)
            else:
                self._file_message(msg)
            msg.seq = self.touch()
            return msg

    def _file_message(self, msg: Message) -> None:
        self.messages[(msg.channel, msg.ts)] = msg
        parent = self.parent_of(msg)
        if parent is None:
            msg.data.pop("thread_ts", None)
            self.channel_order.setdefault(msg.channel, []).append(msg.ts)
            return
        msg.data["thread_ts"] = parent.ts
        msg.data["parent_user_id"] = parent.data.get("user")
        parent.replies.append(msg.ts)
        users = list(dict.fromkeys([*parent.data.get("reply_users", []), msg.data.get("user")]))
        parent.data.update(thread_ts=parent.ts, reply_count=len(parent.replies),
                           reply_users=users, reply_users_count=len(users), latest_reply=msg.ts)
        if msg.data.get("subtype") == "thread_broadcast":
            self.channel_order.setdefault(msg.channel, []).append(msg.ts)

    def parent_of(self, msg: Message) -> Message | None:
        """The thread parent for a reply; a reply to a reply joins the same thread."""
        thread_ts = msg.data.get("thread_ts")
        parent = self.messages.get((msg.channel, str(thread_ts))) if thread_ts else None
        if parent is None or parent.deleted:
            return None
        if parent.is_reply:
            parent = self.messages.get((msg.channel, str(parent.thread_ts)))
        return parent

    def replace_message(self, msg: Message, data: Json) -> Message:
        with self.lock:
            msg.history.append(copy.deepcopy(msg.data))
            msg.data = self._with_ids(data)
            msg.seq = self.touch()
            return msg

    def delete_message(self, msg: Message) -> None:
        with self.lock:
            msg.deleted = True
            if msg.ephemeral_user is None and msg.ts in self.channel_order.get(msg.channel, []):
                self.channel_order[msg.channel].remove(msg.ts)
            msg.seq = self.touch()

    def message(self, channel: str, ts: str) -> Message | None:
        with self.lock:
            msg = self.messages.get((channel, ts))
            return msg if msg is not None and not msg.deleted else None

    def ephemeral(self, channel: str, ts: str) -> Message | None:
        with self.lock:
            return next((m for m in self.ephemerals
                         if m.channel == channel and m.ts == ts and not m.deleted), None)

    def top_level(self, channel: str) -> list[Message]:
        with self.lock:
            return [self.messages[(channel, ts)] for ts in self.channel_order.get(channel, [])]

    def thread(self, channel: str, ts: str) -> list[Message]:
        with self.lock:
            parent = self.message(channel, ts)
            if parent is None:
                return []
            replies = [self.messages[(channel, r)] for r in parent.replies]
            return [parent, *(r for r in replies if not r.deleted)]

    def visible_messages(self, user: str) -> Iterator[Message]:
        """Everything a user could see and click: channel messages, replies, their ephemerals."""
        with self.lock:
            for msg in [*self.messages.values(), *self.ephemerals]:
                if msg.deleted or msg.ephemeral_user not in (None, user):
                    continue
                members = self.channel_members(msg.channel)
                if members is None or user in members:
                    yield msg

    def _with_ids(self, data: Json) -> Json:
        data = copy.deepcopy(data)
        if isinstance(data.get("blocks"), list):
            data["blocks"] = fill_ids(data["blocks"], self.block_id)
        return data

    # -- views -------------------------------------------------------------------------------

    def new_view(self, user: str, view: Json, *, root: View | None = None) -> View:
        """Create a view record; the caller decides where it goes (stack or home)."""
        with self.lock:
            view_id = self.new_id("V")
            data = self._view_object(view_id, view, root)
            record = View(view_id, user, data, values=initial_state(data["blocks"]))
            self.views[view_id] = record
            return record

    def _view_object(self, view_id: str, view: Json, root: View | None) -> Json:
        ws = self.workspace
        data: Json = {
            "id": view_id, "team_id": ws.team_id, "type": view.get("type"),
            "title": None, "close": None, "submit": None, "private_metadata": "",
            "callback_id": "", "external_id": "", "clear_on_close": False,
            "notify_on_close": False, "previous_view_id": None,
            "root_view_id": root.data["root_view_id"] if root else view_id,
            "app_id": ws.api_app_id, "app_installed_team_id": ws.team_id, "bot_id": ws.bot_id,
        }
        data.update(copy.deepcopy({k: v for k, v in view.items() if k not in ("id", "state")}))
        data["blocks"] = fill_ids(view.get("blocks") or [], self.block_id)
        data["hash"] = f"{int(self.clock())}.{secrets.token_hex(4)}"
        return data

    def replace_view(self, record: View, view: Json) -> View:
        with self.lock:
            root = self.views.get(str(record.data.get("root_view_id")))
            record.history.append(record.data)
            data = self._view_object(record.id, view, root)
            data["previous_view_id"] = record.data.get("previous_view_id")
            record.data = data
            record.values = _kept_input(record.values, initial_state(data["blocks"]))
            record.errors = {}
            record.seq = self.touch()
            return record

    def push_view(self, user: str, view: Json) -> View:
        with self.lock:
            stack = self.stacks.setdefault(user, [])
            below = self.views[stack[-1]] if stack else None
            record = self.new_view(user, view, root=below)
            record.data["previous_view_id"] = below.id if below else None
            stack.append(record.id)
            record.seq = self.touch()
            return record

    def stack(self, user: str) -> list[View]:
        with self.lock:
            return [self.views[v] for v in self.stacks.get(user, [])]

    def top_view(self, user: str) -> View | None:
        stack = self.stack(user)
        return stack[-1] if stack else None

    def close_view(self, record: View) -> None:
        with self.lock:
            record.open = False
            stack = self.stacks.get(record.user, [])
            if record.id in stack:
                stack.remove(record.id)
            self.touch()

    def clear_stack(self, user: str) -> None:
        for record in self.stack(user):
            self.close_view(record)

    # -- triggers and response URLs ----------------------------------------------------------

    def issue_trigger(self, user: str) -> str:
        with self.lock:
            trigger_id = f"{int(self.clock())}.{self.workspace.team_id}.{secrets.token_hex(16)}"
            self.triggers[trigger_id] = Trigger(user, self.clock())
            return trigger_id

    def use_trigger(self, trigger_id: str | None) -> str:
        """Spend a trigger_id and return its user; Slack's rules: once, within 3 seconds."""
        with self.lock:
            trigger = self.triggers.get(trigger_id or "")
            if trigger is None:
                raise ApiError("invalid_trigger_id")
            if trigger.used:
                raise ApiError("exchanged_trigger_id")
            if self.clock() - trigger.issued_at > TRIGGER_TTL:
                raise ApiError("expired_trigger_id")
            trigger.used = True
            return trigger.user

    def issue_response_url(self, user: str, channel: str, message_ts: str | None,
                           ephemeral: bool) -> str:
        with self.lock:
            key = secrets.token_urlsafe(18)
            self.response_urls[key] = ResponseUrl(user, channel, message_ts, ephemeral,
                                                  self.clock())
            return key

    def record_delivery(self, result: _Result) -> _Result:
        with self.lock:
            self.deliveries.append(result)
            result.seq = self.touch()
            return result


def _kept_input(old: dict[str, dict[str, Json]],
                new: dict[str, dict[str, Json]]) -> dict[str, dict[str, Json]]:
    """Input state after a view update: like Slack, what a user entered survives an update
    wherever the block_id, action_id and element type stay the same."""
    for block_id, entries in new.items():
        for action_id, entry in entries.items():
            kept = old.get(block_id, {}).get(action_id)
            if kept is not None and kept.get("type") == entry.get("type") and not is_empty(kept):
                entries[action_id] = kept
    return new
