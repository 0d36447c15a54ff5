"""A plan card's own buttons: "Edit step" (the edit form for one step; submitting it is an
edit decision on the plan, through the click inbox like every edit) and "Stop plan"."""

from __future__ import annotations

import logging
import re
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.render import CHANGED_SINCE_FORM, parse_edit_submission, parse_private_metadata
from bot.render.plan import (
    ACTION_PLAN_EDIT_STEP,
    ACTION_PLAN_STOP,
    CALLBACK_PLAN_EDIT_STEP,
    render_plan_stopped,
    render_step_edit_modal,
    step_of_metadata,
    step_view,
)
from bot.render.refusals import NO_SUCH_REQUEST
from bot.slack.app import Click, open_form
from bot.slack.clicks import ClickInbox
from bot.slack.reviews import Reviews
from bot.slack.views import _input_blocks, _new, _submit
from store.errors import SignoffError, TicketNotFound
from store.models import PLAN_ACTION, DecisionKind, Ticket, plan_steps
from store.plans import PlanStore

log = logging.getLogger(__name__)
_EDIT_STEP = re.compile(rf"^{ACTION_PLAN_EDIT_STEP}:(\d+)$")
PLAN_STOPPED = "You stopped the plan: no further step will start."
PLAN_ALREADY_ENDED = "This plan had already ended ({why}); nothing changed."
PLAN_STOP_FAILED = "The plan could not be stopped just now ({why}); please click again."
NOT_A_PLAN = "This request is not an approved plan, so there is nothing to stop."


def register_plan_buttons(app: App, reviews: Reviews, inbox: ClickInbox,
                          checks: Executor) -> None:
    def edit_step(body: dict[str, Any], client: WebClient) -> None:
        c = Click.of(body)
        found = _EDIT_STEP.match(str(body["actions"][0].get("action_id", "")))
        if found is None:
            return
        index = int(found[1])
        open_form(reviews, checks, client, c, DecisionKind.EDIT,
                  lambda ticket: render_step_edit_modal(ticket, index, origin=c.origin))

    @app.action(ACTION_PLAN_STOP)
    def stop(ack: Ack, body: dict[str, Any]) -> None:
        # A stop is written before Slack gets its ack, so an acknowledged stop is never lost;
        # the card and the clicker hear about it after the ack.
        c = Click.of(body)
        said = stop_plan(reviews, c)
        ack()
        reviews.pool.submit(_after_stop, reviews, c, said)

    app.action(_EDIT_STEP)(ack=_ack, lazy=[edit_step])
    app.view(CALLBACK_PLAN_EDIT_STEP)(_step_submission(reviews, inbox))


def _ack(ack: Ack) -> None:
    ack()


def stop_plan(reviews: Reviews, c: Click) -> tuple[str, Ticket | None, bool]:
    """Stop the rest of the plan, if ``c.user`` may decide it. What to tell the clicker (it
    was stopped, had ended, may not be stopped by them, or could not be stopped now), the
    plan's ticket, and whether it stopped now."""
    try:
        ticket = reviews.ledger.get_ticket(c.ticket_id)
    except TicketNotFound:
        return NO_SUCH_REQUEST, None, False
    except SignoffError as exc:
        return PLAN_STOP_FAILED.format(why=exc), None, False
    if ticket.action != PLAN_ACTION:
        return NOT_A_PLAN, ticket, False
    refusal = reviews.authz.refusal(c.user, ticket, DecisionKind.REJECT)
    if refusal is not None:
        return refusal, ticket, False
    try:
        progress, stopped = PlanStore(reviews.ledger).stop(ticket.id, by=c.user)
    except SignoffError as exc:
        log.warning("plan %s not stopped: %s", ticket.id, exc)
        return PLAN_STOP_FAILED.format(why=exc), ticket, False
    if not stopped:
        return PLAN_ALREADY_ENDED.format(why=progress.ended), ticket, False
    return PLAN_STOPPED, ticket, True


def _after_stop(reviews: Reviews, c: Click, said: tuple[str, Ticket | None, bool]) -> None:
    """After the ack: the card shows the plan as it is, the thread says who stopped it, and
    the clicker is told what happened."""
    text, ticket, stopped = said
    try:
        if ticket is not None and ticket.action == PLAN_ACTION:
            reviews.surfaces.refresh(reviews.ledger.get_ticket(ticket.id))
            if stopped:
                reviews.surfaces.reply(ticket, render_plan_stopped(ticket, c.user))
    except SignoffError as exc:
        log.warning("plan %s card not refreshed after a stop: %s", c.ticket_id, exc)
    reviews.surfaces.tell_clicker(c.user, c.channel, c.response_url, text, ticket)


def _step_submission(reviews: Reviews, inbox: ClickInbox) -> Any:
    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        meta = view.get("private_metadata", "")
        origin, index = parse_private_metadata(meta), step_of_metadata(meta)
        first = next(iter(_input_blocks(view)), None)
        try:
            ticket = reviews.ledger.get_ticket(origin.ticket_id)
            steps = plan_steps(ticket.final_args)
        except (TicketNotFound, ValueError):
            ack()
            return
        if index is None or not 0 <= index < len(steps) or (
                ticket.status.is_open and origin.version != ticket.version):
            ack(response_action="errors", errors={first: CHANGED_SINCE_FORM} if first else {})
            reviews.surfaces.refresh(ticket)
            return
        parsed = parse_edit_submission(step_view(ticket, index), None,
                                       view["state"]["values"])
        if not parsed.ok:
            ack(response_action="errors", errors=parsed.errors)
            return
        assert parsed.args is not None
        edited = {"steps": [{"action": s.action,
                             "args": parsed.args if s.index == index else s.args}
                            for s in steps]}
        refusal, _reroute = reviews.recheck_edit(ticket, user, edited)
        if refusal is not None:
            ack(response_action="errors", errors={first: refusal} if first else {})
            return
        _submit(inbox, ack, body, _new(body, origin, DecisionKind.EDIT,
                                       reason=f"edited step {index + 1}", args=edited), first)

    return submit
