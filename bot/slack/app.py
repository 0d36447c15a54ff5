"""The Bolt app: thin handlers that ack first, parse, call the domain, re-render.

Buttons are acknowledged before any database or Slack work, so Slack's 3-second limit
holds whatever the database is doing. Modal submissions are validated before the ack
(their errors must travel in the ack), which reads but never writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render import (
    ACTION_APPROVE,
    ACTION_EDIT,
    ACTION_GUIDANCE,
    ACTION_REJECT,
    ACTION_REQUEST_INFO,
    ACTION_SHOW_ALL,
    ACTION_TAKE_OVER,
    modal_failed_text,
    parse_button_value,
    render_edit_modal,
    render_guidance_modal,
    render_notice_modal,
    render_reject_modal,
    render_request_info_modal,
    render_show_all_modal,
)
from bot.render.argmodel import model_from_schema
from bot.render.refusals import FORM_REFUSED_LATE, NO_SUCH_REQUEST
from bot.slack.authz import Authorizer
from bot.slack.home import publish_home
from bot.slack.retry import RetryQueue
from bot.slack.reviews import Reviews
from bot.slack.surfaces import Surfaces
from bot.slack.views import register_views
from bot.slack.webapi import slack_error
from escalation.config import SignoffConfig
from store.errors import TicketNotFound
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
    surfaces = Surfaces(client, ledger, RetryQueue())
    authz = authz or Authorizer(client, oncall=SweepStore(ledger).oncall_targets)
    reviews = Reviews(ledger, config, authz, surfaces, pool)
    # Who-may-decide checks before a modal opens run here, so a slow one has a time budget
    # (open_form) without holding a Bolt listener or a decision worker.
    checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="signoff-authz")
    _register_buttons(app, reviews, checks)
    register_views(app, reviews)

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any]) -> None:
        # Slack sends this for the Messages tab too; only the Home tab shows the queue.
        if event.get("tab", "home") == "home":
            publish_home(reviews, event["user"])

    return app


_MODALS = {
    ACTION_REJECT: (DecisionKind.REJECT, render_reject_modal),
    ACTION_REQUEST_INFO: (DecisionKind.REQUEST_INFO, render_request_info_modal),
    ACTION_GUIDANCE: (DecisionKind.REQUEST_INFO, render_guidance_modal),
}


def _register_buttons(app: App, reviews: Reviews, checks: Executor) -> None:
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
        app.action(action_id)(_modal_opener(reviews, checks, kind, render))

    @app.action(ACTION_EDIT)
    def edit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        c = Click.of(body)

        def form(ticket: Ticket) -> dict[str, Any]:
            model = model_from_schema(ticket.args_schema) if ticket.args_schema else None
            return render_edit_modal(ticket, model, origin=c.origin)

        open_form(reviews, checks, client, c, DecisionKind.EDIT, form)

    @app.action(ACTION_SHOW_ALL)
    def show_all(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        c = Click.of(body)
        open_form(reviews, checks, client, c, None, lambda ticket: render_show_all_modal(
            ticket, origin=c.origin))


def _modal_opener(reviews: Reviews, checks: Executor, kind: DecisionKind, render: Any) -> Any:
    def open_modal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        c = Click.of(body)
        open_form(reviews, checks, client, c, kind,
                  lambda ticket: render(ticket, origin=c.origin))

    open_modal.__name__ = f"open_{kind.value}_modal"
    return open_modal


#: How long the "may this person start this decision" check may hold a modal back. Slack's
#: trigger_id lives 3 s from the click; past this budget the form opens first and is
#: replaced if the check then refuses.
CHECK_BUDGET_S = 1.0


def open_form(reviews: Reviews, checks: Executor, client: WebClient, c: Click,
              kind: DecisionKind | None, form: Callable[[Ticket], dict[str, Any]]) -> None:
    """Open a modal from a click, refusing people who may not start the decision.

    The check comes first, so nobody types a reason that cannot count; but it may wait on
    Slack (user groups, rate limits) or the database, and the click's trigger_id expires 3 s
    after it. So the check gets :data:`CHECK_BUDGET_S`; when it takes longer the form opens
    at once and a late refusal replaces it. A form Slack would not open is told to the
    reviewer, never lost in a log."""
    check = checks.submit(_started, reviews, c, kind) if kind is not None else None
    ticket: Ticket | None = None
    try:
        if check is not None:
            ticket = check.result(timeout=CHECK_BUDGET_S)
            if ticket is None:
                return  # refused, and told why
    except FutureTimeout:
        log.info("the check for %s is slow: opening the form first", c.ticket_id)
    try:
        ticket = ticket or reviews.ledger.get_ticket(c.ticket_id)
    except TicketNotFound:
        reviews.surfaces.tell(c.user, c.channel, NO_SUCH_REQUEST)
        return
    try:
        view_id = str(client.views_open(trigger_id=c.trigger_id, view=form(ticket))["view"]["id"])
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("modal for ticket %s not opened: %s", ticket.id, slack_error(exc))
        reviews.surfaces.tell(c.user, c.channel, modal_failed_text(slack_error(exc)), ticket)
        return
    if check is not None and check.result() is None:  # a late refusal (already told why)
        try:
            client.views_update(view_id=view_id, view=render_notice_modal(FORM_REFUSED_LATE))
        except (SlackApiError, SlackClientError, OSError) as exc:  # closed meanwhile
            log.info("refused form for ticket %s not replaced: %s", ticket.id,
                     slack_error(exc))


def _started(reviews: Reviews, c: Click, kind: DecisionKind) -> Ticket | None:
    """The ticket, if ``c`` may start this decision; refused clicks are told why."""
    return reviews.start(c.user, c.ticket_id, kind, channel=c.channel, seen=c.seen)
