"""The Bolt app: thin handlers that ack first, parse, call the domain, re-render.

A decision click (Approve, Take over, a modal submission) is written to the click inbox
before its ack, in one small time-bounded transaction, and decided after it
(:mod:`bot.slack.clicks`), so no acknowledged click is ever lost. Other buttons are
acknowledged before any database or Slack work, which runs lazily after the answer. Modal
submissions are validated before the ack (their errors must travel in the ack). Bolt
answers each request as soon as its listener returns (``process_before_response``), so an
ack never waits for Bolt's polling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
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
from bot.slack.batch_review import BatchReviews, register_batch
from bot.slack.breakglass import BreakGlassDesk, offers, register_break_glass
from bot.slack.clicks import ClickInbox
from bot.slack.delegation import DelegatingAuthorizer
from bot.slack.grant_views import register_grants
from bot.slack.home import publish_home
from bot.slack.home_delegation import register_delegation
from bot.slack.refresher import Refresher
from bot.slack.retry import RetryQueue
from bot.slack.reviews import Reviews
from bot.slack.surfaces import Surfaces
from bot.slack.views import register_views
from bot.slack.webapi import slack_error
from escalation.config import SignoffConfig
from store.delegations import DelegationStore
from store.errors import TicketNotFound
from store.inbox import NewClick
from store.ledger import Ledger
from store.models import DecisionKind, Ticket
from store.sweep import SweepStore

log = logging.getLogger(__name__)
#: Bolt's threads for lazy listener work (opening modals, App Home).
LISTENER_THREADS = 8


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
    response_url: str | None = None

    @classmethod
    def of(cls, body: dict[str, Any]) -> Click:
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        value = parse_button_value(str(body["actions"][0].get("value", "")))
        return cls(user=body["user"]["id"], ticket_id=value.ticket_id, seen=value.version,
                   channel=channel, ts=container.get("message_ts"),
                   trigger_id=body.get("trigger_id"), response_url=body.get("response_url"))

    def decision(self, kind: DecisionKind, reason: str | None = None) -> NewClick:
        return NewClick(ticket_id=self.ticket_id, user=self.user, kind=kind, reason=reason,
                        shown_version=self.seen, channel=self.channel, message_ts=self.ts,
                        response_url=self.response_url)

    @property
    def origin(self) -> tuple[str, str] | None:
        return (self.channel, self.ts) if self.channel and self.ts else None


def build_app(*, ledger: Ledger, config: SignoffConfig, client: WebClient,
              signing_secret: str, pool: Executor, owner: str,
              authz: Authorizer | None = None, refresh_pool: Executor | None = None,
              hold_clicks: float = 0.0) -> tuple[App, ClickInbox]:
    """The Bolt app and its click inbox. Decisions run on ``pool`` after the ack
    (``compose`` gives it); ``owner`` names this replica in the inbox's leases."""
    # A request is answered as soon as its listener returns (``process_before_response``):
    # decision listeners write their click, ack and return; other listeners only ack, and
    # their Slack work (opening a modal, publishing App Home) runs lazily on Bolt's threads.
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=False,
              process_before_response=True, raise_error_for_unhandled_request=False,
              listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS,
                                                   thread_name_prefix="signoff-listener"))
    app.middleware(_NoButtonNoClick())
    surfaces = Surfaces(client, ledger, RetryQueue(), break_glass=offers(config))
    authz = authz or DelegatingAuthorizer(client, DelegationStore(ledger),
                                          oncall=SweepStore(ledger).oncall_targets,
                                          config=lambda: config)
    refresher = Refresher(refresh_pool, surfaces.refresh) if refresh_pool else None
    reviews = Reviews(ledger, config, authz, surfaces, pool, refresher=refresher)
    reviews.glass = BreakGlassDesk(reviews, config, authz)
    inbox = ClickInbox(reviews, pool, owner, hold=hold_clicks)
    register_break_glass(app, reviews.glass, inbox)
    # Who-may-decide checks before a modal opens run here, so a slow one has a time budget
    # (open_form) without holding a Bolt listener or a decision worker.
    checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="signoff-authz")
    _register_buttons(app, reviews, inbox, checks)
    register_views(app, reviews, inbox)
    register_delegation(app, reviews, publish_home)
    reviews.batches = BatchReviews(reviews)
    register_batch(app, reviews.batches, inbox)
    register_grants(app, reviews, inbox, checks, open_form, Click.of,
                    lambda user: publish_home(reviews, user))
    from bot.slack.plan_buttons import register_plan_buttons  # it imports this module

    register_plan_buttons(app, reviews, inbox, checks)

    def on_home(event: dict[str, Any]) -> None:
        # Slack sends this for the Messages tab too; only the Home tab shows the queue.
        if event.get("tab", "home") == "home":
            publish_home(reviews, event["user"])

    app.event("app_home_opened")(ack=_ack, lazy=[on_home])

    @app.event("subteam_members_changed")
    def on_group_change(event: dict[str, Any]) -> None:
        # Decisions read membership fresh anyway; this keeps App Home's cache honest.
        authz.forget(str(event.get("subteam_id") or "") or None)

    return app, inbox


_MODALS = {
    ACTION_REJECT: (DecisionKind.REJECT, render_reject_modal),
    ACTION_REQUEST_INFO: (DecisionKind.REQUEST_INFO, render_request_info_modal),
    ACTION_GUIDANCE: (DecisionKind.REQUEST_INFO, render_guidance_modal),
}


def _register_buttons(app: App, reviews: Reviews, inbox: ClickInbox, checks: Executor) -> None:
    @app.action(ACTION_APPROVE)
    def approve(ack: Ack, body: dict[str, Any]) -> None:
        _decision(inbox, ack, Click.of(body).decision(DecisionKind.APPROVE))

    @app.action(ACTION_TAKE_OVER)
    def take_over(ack: Ack, body: dict[str, Any]) -> None:
        _decision(inbox, ack, Click.of(body).decision(DecisionKind.TAKE_OVER,
                                                      reason="taken over by a human"))

    for action_id, (kind, render) in _MODALS.items():
        app.action(action_id)(ack=_ack, lazy=[_modal_opener(reviews, checks, kind, render)])

    def edit(body: dict[str, Any], client: WebClient) -> None:
        c = Click.of(body)

        def form(ticket: Ticket) -> dict[str, Any]:
            model = model_from_schema(ticket.args_schema) if ticket.args_schema else None
            return render_edit_modal(ticket, model, origin=c.origin)

        open_form(reviews, checks, client, c, DecisionKind.EDIT, form)

    def show_all(body: dict[str, Any], client: WebClient) -> None:
        c = Click.of(body)
        open_form(reviews, checks, client, c, None, lambda ticket: render_show_all_modal(
            ticket, origin=c.origin))

    app.action(ACTION_EDIT)(ack=_ack, lazy=[edit])
    app.action(ACTION_SHOW_ALL)(ack=_ack, lazy=[show_all])


class _NoButtonNoClick(Middleware):
    """A signed block_actions payload that names no action (``actions`` missing, empty or
    not a list of actions) is answered 200 and goes no further: there is no button to act
    on, and an error would only make Slack send it again. Bolt's listener matchers, and its
    argument injection for function middleware, would raise on it (a 500)."""

    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse:
        body = req.body
        if body.get("type") == "block_actions":
            actions = body.get("actions")
            if not isinstance(actions, list) or not actions or not all(
                    isinstance(a, dict) and isinstance(a.get("action_id"), str)
                    for a in actions):
                log.warning("block_actions without a usable action from %s: ignored",
                            (body.get("user") or {}).get("id", "?"))
                return BoltResponse(status=200, body="")
        return next()


def _ack(ack: Ack) -> None:
    """Answer Slack at once; the listener's work runs lazily, after the answer."""
    ack()


def _decision(inbox: ClickInbox, ack: Ack, new: NewClick) -> None:
    """Write the click, then ack; decide it after the ack. A click that could not be written
    was answered already (or raises, so Slack shows the clicker an error)."""
    click = inbox.receive(new)
    ack()
    if click is not None:
        inbox.process_later(click)


def _modal_opener(reviews: Reviews, checks: Executor, kind: DecisionKind, render: Any) -> Any:
    def open_modal(body: dict[str, Any], client: WebClient) -> None:
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
