"""Modal submissions: validated before the ack (errors are shown in the modal), recorded
after it."""

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
from bot.render.refusals import MISSING_GUIDANCE, MISSING_QUESTION, MISSING_REASON
from bot.slack.reviews import Reviews
from store.errors import TicketNotFound
from store.models import DecisionKind

_TEXT_MODALS = {
    CALLBACK_REJECT: (DecisionKind.REJECT, parse_reason_submission, REASON_BLOCK,
                      MISSING_REASON),
    CALLBACK_REQUEST_INFO: (DecisionKind.REQUEST_INFO, parse_question_submission,
                            QUESTION_BLOCK, MISSING_QUESTION),
    CALLBACK_GUIDANCE: (DecisionKind.REQUEST_INFO, parse_guidance_submission, GUIDANCE_BLOCK,
                        MISSING_GUIDANCE),
}


def register_views(app: App, reviews: Reviews) -> None:
    for callback_id, spec in _TEXT_MODALS.items():
        app.view(callback_id)(_text_submission(reviews, *spec))

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
        refusal, reroute = reviews.recheck_edit(ticket, user, parsed.args)
        if refusal is not None:
            first = next(iter(_input_blocks(view)), None)
            ack(response_action="errors", errors={first: refusal} if first else {})
            return
        ack()
        reviews.decide_later(ticket.id, user, DecisionKind.EDIT, channel=origin.channel,
                             seen=origin.version, args=parsed.args, reason="edited",
                             reroute=reroute)


def _text_submission(reviews: Reviews, kind: DecisionKind, parse: Any, block: str,
                     missing: str) -> Any:
    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = (parse(view["state"]["values"]) or "").strip()
        if not text:
            ack(response_action="errors", errors={block: missing})
            return
        ack()
        origin = parse_private_metadata(view.get("private_metadata", ""))
        reviews.decide_later(origin.ticket_id, body["user"]["id"], kind,
                             channel=origin.channel, seen=origin.version, reason=text)

    submit.__name__ = f"submit_{kind.value}"
    return submit


def _input_blocks(view: dict[str, Any]) -> list[str]:
    return [b["block_id"] for b in view.get("blocks", [])
            if b.get("type") == "input" and "block_id" in b]
