"""Modal submissions: validated before the ack (errors are shown in the modal), written to
the click inbox before it (a failed write is shown in the modal too), decided after it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.render import (
    CALLBACK_EDIT,
    CALLBACK_GUIDANCE,
    CALLBACK_REJECT,
    CALLBACK_REQUEST_INFO,
    CHANGED_SINCE_FORM,
    GUIDANCE_BLOCK,
    QUESTION_BLOCK,
    REASON_BLOCK,
    parse_edit_submission,
    parse_guidance_submission,
    parse_private_metadata,
    parse_question_submission,
    parse_reason_submission,
)
from bot.render.argmodel import model_from_schema
from bot.render.clicks import render_click_field_error
from bot.render.modals import ModalOrigin
from bot.render.refusals import MISSING_GUIDANCE, MISSING_QUESTION, MISSING_REASON
from bot.slack.clicks import ClickInbox
from bot.slack.reviews import Reviews
from store.errors import TicketNotFound
from store.inbox import NewClick
from store.models import DecisionKind

_TEXT_MODALS = {
    CALLBACK_REJECT: (DecisionKind.REJECT, parse_reason_submission, REASON_BLOCK,
                      MISSING_REASON),
    CALLBACK_REQUEST_INFO: (DecisionKind.REQUEST_INFO, parse_question_submission,
                            QUESTION_BLOCK, MISSING_QUESTION),
    CALLBACK_GUIDANCE: (DecisionKind.REQUEST_INFO, parse_guidance_submission, GUIDANCE_BLOCK,
                        MISSING_GUIDANCE),
}


def register_views(app: App, reviews: Reviews, inbox: ClickInbox) -> None:
    for callback_id, spec in _TEXT_MODALS.items():
        app.view(callback_id)(_text_submission(inbox, *spec))

    @app.view(CALLBACK_EDIT)
    def edit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        origin = parse_private_metadata(view.get("private_metadata", ""))
        try:
            ticket = reviews.ledger.get_ticket(origin.ticket_id)
        except TicketNotFound:
            ack()
            return
        if ticket.status.is_open and origin.version != ticket.version:
            # The form was filled in on an older version: refuse it before anything counts.
            first = next(iter(_input_blocks(view)), None)
            ack(response_action="errors",
                errors={first: CHANGED_SINCE_FORM} if first else {})
            reviews.surfaces.refresh(ticket)
            return
        model = model_from_schema(ticket.args_schema) if ticket.args_schema else None
        parsed = parse_edit_submission(ticket, model, view["state"]["values"])
        if not parsed.ok:
            ack(response_action="errors", errors=parsed.errors)
            return
        assert parsed.args is not None
        refusal, _reroute = reviews.recheck_edit(ticket, user, parsed.args)
        if refusal is not None:
            first = next(iter(_input_blocks(view)), None)
            ack(response_action="errors", errors={first: refusal} if first else {})
            return
        # Policy looks at the edit again when it is decided (what it says then counts).
        _submit(inbox, ack, body, _new(body, origin, DecisionKind.EDIT, reason="edited",
                                       args=parsed.args), next(iter(_input_blocks(view)), None))


def _new(body: dict[str, Any], origin: ModalOrigin, kind: DecisionKind, **what: Any
         ) -> NewClick:
    urls = body.get("response_urls") or []
    return NewClick(ticket_id=origin.ticket_id, user=body["user"]["id"], kind=kind,
                    channel=origin.channel, message_ts=origin.ts, shown_version=origin.version,
                    response_url=urls[0].get("response_url") if urls else None, **what)


def _submit(inbox: ClickInbox, ack: Ack, body: dict[str, Any], new: NewClick,
            block: str | None) -> None:
    """Write the submission, then ack; a failed write is an error in the modal."""
    click = inbox.receive(new, tell=False)
    if click is None:
        ack(response_action="errors",
            errors={block: render_click_field_error()} if block else {})
        return
    ack()
    inbox.process_later(click)


def _text_submission(inbox: ClickInbox, kind: DecisionKind, parse: Any, block: str,
                     missing: str) -> Any:
    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = (parse(view["state"]["values"]) or "").strip()
        if not text:
            ack(response_action="errors", errors={block: missing})
            return
        origin = parse_private_metadata(view.get("private_metadata", ""))
        _submit(inbox, ack, body, _new(body, origin, kind, reason=text), block)

    submit.__name__ = f"submit_{kind.value}"
    return submit


def _input_blocks(view: dict[str, Any]) -> list[str]:
    return [b["block_id"] for b in view.get("blocks", [])
            if b.get("type") == "input" and "block_id" in b]
