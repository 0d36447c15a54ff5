"""The Bolt app: thin handlers that ack first, parse, call the domain, re-render.

Buttons are acknowledged before any database or Slack work, so Slack's 3-second limit
holds whatever the database is doing. Modal submissions are validated before the ack
(their errors must travel in the ack), which reads but never writes.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.agent.argmodel import model_from_schema
from bot.render import (
    ACTION_APPROVE,
    ACTION_EDIT,
    ACTION_GUIDANCE,
    ACTION_REJECT,
    ACTION_REQUEST_INFO,
    ACTION_SHOW_ALL,
    ACTION_TAKE_OVER,
    parse_button_value,
    render_edit_modal,
    render_guidance_modal,
    render_reject_modal,
    render_request_info_modal,
    render_show_all_modal,
)
from bot.slack.authz import Authorizer
from bot.slack.home import publish_home
from bot.slack.reviews import Reviews
from bot.slack.surfaces import Surfaces
from bot.slack.views import register_views
from escalation.config import SignoffConfig
from store.ledger import Ledger
from store.models import DecisionKind, Ticket
from store.sweep import SweepStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Click:
    """The parts of a block_actions payload the handlers need."""

    user: str
    ticket_id: str
    seen: int | None
    """The ticket version the clicked card showed (None on cards from before versions)."""
    channel: str | None
    ts: str | None
    trigger_id: str | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> Click:
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        value = parse_button_value(str(body["actions"][0].get("value", "")))
        return cls(user=body["user"]["id"], ticket_id=value.ticket_id, seen=value.version,
                   channel=channel, ts=container.get("message_ts"),
                   trigger_id=body.get("trigger_id"))

    @property
    def origin(self) -> tuple[str, str] | None:
        return (self.channel, self.ts) if self.channel and self.ts else None


def build_app(*, ledger: Ledger, config: SignoffConfig, client: WebClient,
              signing_secret: str, pool: Executor, authz: Authorizer | None = None) -> App:
    """The Bolt app. Decisions run on ``pool`` after the ack (``compose`` gives it)."""
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=False,
              process_before_response=False, raise_error_for_unhandled_request=False)
    surfaces = Surfaces(client, ledger)
    authz = authz or Authorizer(client, oncall=SweepStore(ledger).oncall_targets)
    reviews = Reviews(ledger, config, authz, surfaces, pool)
    _register_buttons(app, reviews)
    register_views(app, reviews)

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any]) -> None:
        publish_home(reviews, event["user"])

    return app


_MODALS = {
    ACTION_REJECT: (DecisionKind.REJECT, render_reject_modal),
    ACTION_REQUEST_INFO: (DecisionKind.REQUEST_INFO, render_request_info_modal),
    ACTION_GUIDANCE: (DecisionKind.REQUEST_INFO, render_guidance_modal),
}


def _register_buttons(app: App, reviews: Reviews) -> None:
    @app.action(ACTION_APPROVE)
    def approve(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        c = Click.of(body)
        reviews.decide_later(c.ticket_id, c.user, DecisionKind.APPROVE, channel=c.channel,
                             seen=c.seen)

    @app.action(ACTION_TAKE_OVER)
    def take_over(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        c = Click.of(body)
        reviews.decide_later(c.ticket_id, c.user, DecisionKind.TAKE_OVER, channel=c.channel,
                             seen=c.seen, reason="taken over by a human")

    for action_id, (kind, render) in _MODALS.items():
        app.action(action_id)(_modal_opener(reviews, kind, render))

    @app.action(ACTION_EDIT)
    def edit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        c = Click.of(body)
        ticket = _started(reviews, c, DecisionKind.EDIT)
        if ticket is None:
            return
        model = model_from_schema(ticket.args_schema) if ticket.args_schema else None
        view = render_edit_modal(ticket, model,
                                 origin=c.origin)
        client.views_open(trigger_id=c.trigger_id, view=view)

    @app.action(ACTION_SHOW_ALL)
    def show_all(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        c = Click.of(body)
        ticket = reviews.ledger.get_ticket(c.ticket_id)
        client.views_open(trigger_id=c.trigger_id, view=render_show_all_modal(
            ticket, origin=c.origin))


def _modal_opener(reviews: Reviews, kind: DecisionKind, render: Any) -> Any:
    def open_modal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        c = Click.of(body)
        ticket = _started(reviews, c, kind)
        if ticket is None:
            return
        client.views_open(trigger_id=c.trigger_id, view=render(ticket, origin=c.origin))

    open_modal.__name__ = f"open_{kind.value}_modal"
    return open_modal


def _started(reviews: Reviews, c: Click, kind: DecisionKind) -> Ticket | None:
    """The ticket, if ``c`` may start this decision; refused clicks are told why."""
    return reviews.start(c.user, c.ticket_id, kind, channel=c.channel, seen=c.seen)
