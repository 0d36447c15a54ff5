"""Acting as users: clicking buttons and choosing options in messages and views.

Only what a user could see is reachable: channel messages and replies in channels they belong
to, their own ephemerals, the top modal of their stack and their Home tab. Without a message or
view named, the most recently changed surface with a match wins, as it would be on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.sandbox import payloads
from bot.sandbox.api_base import ApiContext
from bot.sandbox.delivery import Deliverer, Forgery
from bot.sandbox.errors import ElementNotFound, InvalidInput
from bot.sandbox.records import AppResponse, Json, Message, View
from bot.sandbox.responder import response_url_for
from bot.sandbox.surface import STATE_KEYS, Located, elements, initial_state, state_value

Surface = Message | View
Match = Callable[[Located], bool]


@dataclass(frozen=True)
class Where:
    """Narrows the search for an element: a channel, a message ts, or a view id."""

    channel: str | None = None
    message_ts: str | None = None
    view_id: str | None = None


class Actors:
    def __init__(self, ctx: ApiContext, deliverer: Deliverer, verification_token: str) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.deliverer = deliverer
        self.token = verification_token

    # -- public actions ----------------------------------------------------------------------

    def click(self, user: str, *, action_id: str | None = None, text: str | None = None,
              block_id: str | None = None, where: Where = Where(),
              forgery: Forgery | None = None) -> AppResponse:
        """Click a button found by action_id and/or its visible text (and block_id)."""
        if action_id is None and text is None:
            raise ValueError("name the button by action_id or by text")

        def match(loc: Located) -> bool:
            label = loc.element.get("text")
            shown = label.get("text") if isinstance(label, dict) else None
            return (loc.element.get("type") == "button"
                    and action_id in (None, loc.action_id) and text in (None, shown)
                    and block_id in (None, loc.block_id))

        surface, loc = self.find(user, match, where, f"button {action_id or text!r}")
        return self._dispatch(user, surface, loc, None, forgery)

    def select(self, user: str, action_id: str, value: Any, *, block_id: str | None = None,
               where: Where = Where(), forgery: Forgery | None = None) -> AppResponse | None:
        """Choose in a select, checkboxes, date picker, overflow...; None if nothing is sent.

        Elements inside input blocks only change the view's state unless ``dispatch_action``.
        """

        def match(loc: Located) -> bool:
            kind = loc.element.get("type")
            return ((kind in STATE_KEYS or kind == "overflow") and loc.action_id == action_id
                    and block_id in (None, loc.block_id))

        surface, loc = self.find(user, match, where, f"element {action_id!r}")
        if loc.element.get("type") == "overflow":
            selection = {"selected_option": state_value({**loc.element, "type": "static_select"},
                                                        value)["selected_option"]}
        else:
            selection = state_value(loc.element, value)
            self._remember(user, surface, loc, selection)
        if not loc.dispatches:
            return None
        return self._dispatch(user, surface, loc, selection, forgery)

    def fill(self, view: View, values: Mapping[str, Any]) -> View:
        """Type into a view's inputs: keys are action_ids, or block_ids holding {action_id: v}."""
        with self.state.lock:
            for block_id, action_id, value in _flatten(view, values):
                loc = _locate(view.blocks, block_id, action_id)
                view.values.setdefault(loc.block_id, {})[loc.action_id] = state_value(
                    loc.element, value)
            view.seq = self.state.touch()
            return view

    # -- finding -----------------------------------------------------------------------------

    def find(self, user: str, match: Match, where: Where, what: str) -> tuple[Surface, Located]:
        with self.state.lock:
            candidates = sorted(self._surfaces(user, where), key=lambda s: s.seq, reverse=True)
            for surface in candidates:
                for loc in elements(surface.blocks):
                    if match(loc):
                        return surface, loc
        raise ElementNotFound(f"no {what} visible to {user}")

    def _surfaces(self, user: str, where: Where) -> Iterable[Surface]:
        if where.view_id is not None:
            view = self.state.views.get(where.view_id)
            if view is None or view.user != user or not self._visible(view):
                raise ElementNotFound(f"view {where.view_id} is not on {user}'s screen")
            return [view]
        messages = [m for m in self.state.visible_messages(user)
                    if where.channel in (None, m.channel)
                    and where.message_ts in (None, m.ts)]
        if where.message_ts is not None or where.channel is not None:
            return messages
        views: list[Surface] = [v for v in (self.state.top_view(user), self.home(user)) if v]
        return [*messages, *views]

    def _visible(self, view: View) -> bool:
        return view.open and (view is self.state.top_view(view.user)
                              or self.state.homes.get(view.user) == view.id)

    def home(self, user: str) -> View | None:
        home_id = self.state.homes.get(user)
        return self.state.views.get(home_id) if home_id else None

    # -- delivering --------------------------------------------------------------------------

    def _dispatch(self, user: str, surface: Surface, loc: Located, selection: Json | None,
                  forgery: Forgery | None) -> AppResponse:
        with self.state.lock:
            action = payloads.action_json(loc, self.state.new_ts(), selection)
            trigger_id = self.state.issue_trigger(user)
            ws = self.state.workspace
            if isinstance(surface, View):
                payload = payloads.view_actions(ws, self.token, user, surface, action,
                                                trigger_id=trigger_id)
            else:
                key = self.state.issue_response_url(user, surface.channel, surface.ts,
                                                    surface.ephemeral_user is not None)
                payload = payloads.message_actions(
                    ws, self.token, user, surface, action,
                    state=self._message_state(user, surface),
                    response_url=response_url_for(self.ctx, key), trigger_id=trigger_id)
        result = self.deliverer.interaction("block_actions", user, payload, forgery)
        return self.state.record_delivery(result)

    def _remember(self, user: str, surface: Surface, loc: Located, entry: Json) -> None:
        with self.state.lock:
            if isinstance(surface, View):
                surface.values.setdefault(loc.block_id, {})[loc.action_id] = entry
            else:
                key = (surface.channel, surface.ts, user)
                self.state.message_values.setdefault(key, {}).setdefault(
                    loc.block_id, {})[loc.action_id] = entry
            self.state.touch()

    def _message_state(self, user: str, msg: Message) -> dict[str, Any]:
        state = initial_state(msg.blocks)
        for block_id, entries in self.state.message_values.get((msg.channel, msg.ts, user),
                                                               {}).items():
            state.setdefault(block_id, {}).update(entries)
        return state


def _flatten(view: View, values: Mapping[str, Any]) -> Iterable[tuple[str | None, str, Any]]:
    block_ids = {str(b.get("block_id")) for b in view.blocks}
    for key, value in values.items():
        if key in block_ids and isinstance(value, Mapping):
            yield from ((key, action_id, v) for action_id, v in value.items())
        else:
            yield None, key, value


def _locate(blocks: list[Json], block_id: str | None, action_id: str) -> Located:
    found = [loc for loc in elements(blocks) if loc.action_id == action_id
             and block_id in (None, loc.block_id) and loc.element.get("type") in STATE_KEYS]
    if not found:
        raise ElementNotFound(f"no input {action_id!r} in the view")
    if len(found) > 1:
        raise InvalidInput(f"{action_id!r} is in several blocks; key the value by block_id")
    return found[0]
