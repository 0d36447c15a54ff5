"""Events API deliveries, URL verification, slash commands and messages typed by users."""

from __future__ import annotations

import secrets
from typing import Any

from bot.sandbox import payloads
from bot.sandbox.actors import Actors
from bot.sandbox.delivery import Forgery
from bot.sandbox.errors import SandboxError
from bot.sandbox.records import AppResponse, Json, Message
from bot.sandbox.responder import response_url_for

MAX_EVENT_RETRIES = 3  # Slack: retried 3 times (at once, after 1 minute, after 5 minutes)


class Events:
    def __init__(self, actors: Actors) -> None:
        self.actors = actors
        self.state = actors.state

    def send(self, event: Json, *, forgery: Forgery | None = None,
             retries: int = 0) -> AppResponse:
        """Wrap an event in Slack's ``event_callback`` envelope and deliver it.

        Slack redelivers an event the app did not acknowledge (HTTP 200 within 3 s) up to
        3 times, marking each retry with ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason``;
        ``retries`` (at most 3) does the same, at once rather than over minutes."""
        event = {**event, "event_ts": event.get("event_ts") or self.state.new_ts()}
        envelope = payloads.event_callback(
            self.state.workspace, self.actors.token, event,
            event_id=f"Ev{secrets.token_hex(5).upper()}", event_time=int(self.state.clock()))
        user = event.get("user") if isinstance(event.get("user"), str) else None
        result = self._deliver(envelope, user, forgery, None)
        for attempt in range(1, min(retries, MAX_EVENT_RETRIES) + 1):
            if result.ok:
                break
            reason = "http_timeout" if result.error == "ack_timeout" else (
                "http_error" if result.status else "connection_failed")
            result = self._deliver(envelope, user, forgery, (attempt, reason))
        return result

    def _deliver(self, envelope: Json, user: Any, forgery: Forgery | None,
                 retry: tuple[int, str] | None) -> AppResponse:
        result = self.actors.deliverer.event("event_callback", envelope, forgery, retry=retry)
        result.user = user
        return self.state.record_delivery(result)

    def app_home_opened(self, user: str, *, tab: str = "home",
                        forgery: Forgery | None = None) -> AppResponse:
        """The user opens the app's Home tab (``tab="home"``) or its Messages tab."""
        self._known_user(user)
        if tab not in ("home", "messages"):
            raise SandboxError(f"an app has a home and a messages tab, not {tab!r}")
        event: Json = {"type": "app_home_opened", "user": user,
                       "channel": self.state.dm_for((user,)), "tab": tab}
        home = self.actors.home(user)
        if home is not None and tab == "home":
            event["view"] = home.slack_view()
        return self.send(event, forgery=forgery)

    def user_message(self, user: str, channel: str, text: str, *, thread_ts: str | None = None,
                     forgery: Forgery | None = None) -> tuple[Message, AppResponse]:
        """A user types a message: it is recorded, and a ``message`` event goes to the app."""
        self._known_user(user)
        channel_id = self.state.resolve_channel(channel)
        data: Json = {"type": "message", "user": user, "text": text, "ts": self.state.new_ts(),
                      "team": self.state.workspace.team_id}
        if thread_ts:
            data["thread_ts"] = thread_ts
        msg = self.state.add_message(channel_id, data)
        kind = "im" if channel_id.startswith("D") else "channel"
        event = {**msg.data, "channel": channel_id, "channel_type": kind,
                 "event_ts": msg.ts}
        return msg, self.send(event, forgery=forgery)

    def url_verification(self, challenge: str | None = None, *,
                         forgery: Forgery | None = None) -> AppResponse:
        """Slack's handshake when a Request URL is saved: the app must echo the challenge."""
        challenge = challenge or secrets.token_urlsafe(24)
        body = payloads.url_verification(self.actors.token, challenge)
        result = self.actors.deliverer.event("url_verification", body, forgery)
        if result.ok and challenge not in result.body:
            result.error = "challenge_not_echoed"
        return self.state.record_delivery(result)

    def slash_command(self, user: str, command: str, text: str = "", *,
                      channel: str | None = None,
                      forgery: Forgery | None = None) -> AppResponse:
        self._known_user(user)
        channel_id = self.state.resolve_channel(channel or user)
        with self.state.lock:
            key = self.state.issue_response_url(user, channel_id, None, False)
            fields = payloads.slash_command(
                self.state.workspace, self.actors.token, user, channel_id, command, text,
                response_url=response_url_for(self.actors.ctx, key),
                trigger_id=self.state.issue_trigger(user))
        result = self.actors.deliverer.form("slash_command", user, fields, forgery)
        return self.state.record_delivery(result)

    def _known_user(self, user: Any) -> None:
        if self.state.workspace.user(str(user)) is None:
            raise SandboxError(f"no user {user} in the workspace")
