"""Submitting and closing modals, and honouring the app's ``response_action``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from bot.sandbox import payloads
from bot.sandbox.actors import Actors
from bot.sandbox.api_base import check_view
from bot.sandbox.delivery import Forgery
from bot.sandbox.errors import ApiError, ElementNotFound
from bot.sandbox.records import AppResponse, Json, SubmissionResult, View
from bot.sandbox.state import MAX_VIEW_STACK
from bot.sandbox.surface import client_side_errors


class Modals:
    def __init__(self, actors: Actors) -> None:
        self.actors = actors
        self.state = actors.state
        #: Send text inputs back as some clients do: CRLF as LF, trailing whitespace trimmed.
        self.normalise_text = False

    def modal(self, user: str, view_id: str | None = None) -> View:
        """The modal a user can act on: the top of their stack (the others are hidden)."""
        top = self.state.top_view(user)
        if top is None:
            raise ElementNotFound(f"{user} has no modal open")
        if view_id is not None and view_id != top.id:
            raise ElementNotFound(f"view {view_id} is not {user}'s top modal")
        return top

    def submit(self, user: str, values: Mapping[str, Any] | None = None, *,
               view_id: str | None = None, forgery: Forgery | None = None) -> SubmissionResult:
        view = self.modal(user, view_id)
        if values:
            self.actors.fill(view, values)
        refused = client_side_errors(view.blocks, view.values)
        if refused:
            # Slack's client shows these itself; the app never hears of the attempt.
            view.errors = refused
            self.state.touch()
            return SubmissionResult("view_submission", user, None, 0, "", 0.0,
                                    errors=refused, view=view, delivered=False)
        if self.normalise_text:
            _normalise_text_inputs(view)
        with self.state.lock:
            payload = payloads.view_submission(self.state.workspace, self.actors.token, user,
                                               view, trigger_id=self.state.issue_trigger(user))
        sent = self.actors.deliverer.interaction("view_submission", user, payload, forgery)
        result = SubmissionResult(**_fields(sent), view=view)
        if result.ok:
            self._respond(view, result)
        return self.state.record_delivery(result)

    def close(self, user: str, *, view_id: str | None = None, clear: bool = False,
              forgery: Forgery | None = None) -> AppResponse | None:
        """Close the top modal (or all, when ``clear`` or the view asks to clear on close).

        ``view_closed`` reaches the app only when the view set ``notify_on_close``.
        """
        view = self.modal(user, view_id)
        clear = clear or view.data.get("clear_on_close") is True
        with self.state.lock:
            if clear:
                self.state.clear_stack(user)
            else:
                self.state.close_view(view)
        if view.data.get("notify_on_close") is not True:
            return None
        payload = payloads.view_closed(self.state.workspace, self.actors.token, user, view,
                                       is_cleared=clear)
        result = self.actors.deliverer.interaction("view_closed", user, payload, forgery)
        return self.state.record_delivery(result)

    def _respond(self, view: View, result: SubmissionResult) -> None:
        try:
            answer = json.loads(result.body) if result.body.strip() else {}
        except json.JSONDecodeError:
            result.error = "invalid_response"
            return
        action = answer.get("response_action") if isinstance(answer, dict) else None
        result.response_action = action if isinstance(action, str) else None
        with self.state.lock:
            try:
                self._apply(view, result, answer)
            except ApiError as err:
                result.error = ": ".join([err.error, *err.messages])

    def _apply(self, view: View, result: SubmissionResult, answer: Json) -> None:
        action = result.response_action
        if action is None:
            self.state.close_view(view)  # an empty ack closes the submitted view
        elif action == "errors":
            result.errors = _checked_errors(view, answer.get("errors"))
            view.errors = dict(result.errors)
            self.state.touch()
        elif action == "update":
            self.state.replace_view(view, check_view(answer.get("view"), ("modal",)))
        elif action == "push":
            pushed = check_view(answer.get("view"), ("modal",))
            if len(self.state.stack(view.user)) >= MAX_VIEW_STACK:
                raise ApiError("push_limit_reached")
            result.view = self.state.push_view(view.user, pushed)
        elif action == "clear":
            self.state.clear_stack(view.user)
        else:
            raise ApiError("invalid_response_action", [f"unknown response_action {action!r}"])


def _checked_errors(view: View, errors: Any) -> dict[str, str]:
    """The app's per-block errors; Slack only accepts them on input blocks of the view."""
    if not isinstance(errors, dict) or not errors:
        raise ApiError("invalid_response_action", ["errors must be an object of block_ids"])
    inputs = {str(b.get("block_id")) for b in view.blocks if b.get("type") == "input"}
    unknown = sorted(set(errors) - inputs)
    if unknown:
        raise ApiError("invalid_response_action",
                       [f"errors name blocks that are not inputs of the view: {unknown}"])
    return {str(k): str(v) for k, v in errors.items()}


def _fields(result: AppResponse) -> dict[str, Any]:
    return {k: v for k, v in asdict(result).items() if k != "seq"}


def _normalise_text_inputs(view: View) -> None:
    """What a client that tidies text does to a modal's plain-text inputs before sending."""
    for entries in view.values.values():
        for entry in entries.values():
            value = entry.get("value")
            if entry.get("type") == "plain_text_input" and isinstance(value, str):
                entry["value"] = value.replace("\r\n", "\n").replace("\r", "\n").rstrip()
