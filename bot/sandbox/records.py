"""What the sandbox records: API calls, messages, views and deliveries to the app."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class ApiCall:
    seq: int
    method: str
    args: Json
    status: int
    response: Json
    at: float
    token: str | None

    @property
    def ok(self) -> bool:
        return self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return error if isinstance(error, str) else None

    def to_json(self) -> Json:
        return {"seq": self.seq, "method": self.method, "args": self.args, "status": self.status,
                "response": self.response, "at": self.at}


@dataclass
class Message:
    """A message as it stands now, with its earlier versions and, for a parent, its replies."""

    channel: str
    ts: str
    data: Json
    history: list[Json] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    ephemeral_user: str | None = None
    deleted: bool = False
    seq: int = 0  # state version at the last change: the most recent surface wins a lookup

    @property
    def text(self) -> str:
        return str(self.data.get("text") or "")

    @property
    def blocks(self) -> list[Json]:
        blocks = self.data.get("blocks")
        return blocks if isinstance(blocks, list) else []

    @property
    def thread_ts(self) -> str | None:
        value = self.data.get("thread_ts")
        return value if isinstance(value, str) else None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_json(self) -> Json:
        return {"channel": self.channel, "ts": self.ts, "message": self.data,
                "history": self.history, "replies": self.replies,
                "ephemeral_user": self.ephemeral_user, "deleted": self.deleted}


@dataclass
class View:
    """A modal or Home tab of one user; ``values`` is the input state Slack's client keeps."""

    id: str
    user: str
    data: Json
    values: dict[str, dict[str, Json]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    history: list[Json] = field(default_factory=list)
    open: bool = True
    seq: int = 0

    @property
    def type(self) -> str:
        return str(self.data.get("type"))

    @property
    def blocks(self) -> list[Json]:
        blocks = self.data.get("blocks")
        return blocks if isinstance(blocks, list) else []

    @property
    def hash(self) -> str:
        return str(self.data.get("hash"))

    def slack_view(self) -> Json:
        """The view object as Slack sends it to the app, with the current input state."""
        return {**self.data, "state": {"values": json.loads(json.dumps(self.values))}}

    def to_json(self) -> Json:
        return {"id": self.id, "user": self.user, "view": self.slack_view(),
                "errors": self.errors, "open": self.open, "history": self.history}


@dataclass
class AppResponse:
    """One request the sandbox sent to the app, and how the app answered.

    ``error`` is None when Slack would be satisfied: HTTP 200 within the ack deadline. Otherwise it
    names what the user would have seen fail: ``ack_timeout``, ``http_<status>``,
    ``connection_failed``.
    """

    kind: str
    user: str | None
    payload: Json | None
    status: int
    body: str
    elapsed: float
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seq: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def json(self) -> Any:
        """The app's response body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body.strip() else None

    def to_json(self) -> Json:
        return {"seq": self.seq, "kind": self.kind, "user": self.user, "payload": self.payload,
                "status": self.status, "body": self.body, "elapsed": self.elapsed,
                "error": self.error, "ok": self.ok}


@dataclass
class SubmissionResult(AppResponse):
    """A ``view_submission`` and the ``response_action`` the sandbox applied.

    ``delivered`` is False when Slack's client would have refused to submit (a required field is
    empty, a value is too short); ``errors`` then holds those messages per block_id, as it holds the
    app's ``response_action: errors``.
    """

    response_action: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    view: View | None = None
    delivered: bool = True

    def to_json(self) -> Json:
        return {**super().to_json(), "response_action": self.response_action,
                "errors": self.errors, "delivered": self.delivered,
                "view_id": self.view.id if self.view else None}
