"""Editing a value longer than one Slack input, end to end: the real bot behind a real HTTP
server, signed requests from the local Slack-compatible server, and the ledger underneath."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, Field

from bot.render import ACTION_EDIT, EDIT_VALUE_ACTION
from bot.sandbox.blockkit import validate_view
from bot.sandbox.records import View
from store.models import DecisionKind, Ticket, TicketStatus, args_hash
from tests.e2e.conftest import Rig

REVIEWER = "U0SRE1"  # send_email goes to the default route, reviewed by the SRE group
CHANNEL = "C0APPROVALS"
LINE = "Hello Ana — your refund of EUR 120 for order 1042 is on its way. 😀\n"
BODY = (LINE * 200)[:7000]


class EmailArgs(BaseModel):
    to: str
    subject: str
    body: str = Field(max_length=7500)


def request_email(rig: Rig, body: str = BODY) -> Ticket:
    ticket = rig.client.request(
        "send_email", {"to": "ana@example.com", "subject": "Your refund", "body": body},
        reason="customer asked for confirmation", requested_by="U0REQUESTER",
        args_model=EmailArgs)
    assert ticket.status == TicketStatus.PENDING
    return ticket


def open_edit(rig: Rig) -> View:
    assert rig.sandbox.click(REVIEWER, action_id=ACTION_EDIT, channel=CHANNEL).ok
    views = rig.sandbox.wait_until(lambda: rig.sandbox.views(REVIEWER))
    return views[-1]


def parts_of(view: View) -> list[tuple[str, str, str]]:
    """(block id, label, text) of each part of the body, in order."""
    return [(b["block_id"], b["label"]["text"], b["element"]["initial_value"])
            for b in view.blocks
            if b["type"] == "input" and b["label"]["text"].startswith("body (part ")]


def settled(rig: Rig, ticket_id: str) -> Ticket:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if rig.ledger.decisions(ticket_id):
            return rig.ledger.get_ticket(ticket_id)
        time.sleep(0.01)
    raise AssertionError(f"ticket {ticket_id} got no decision")


def typed(block_id: str, text: str) -> dict[str, Any]:
    return {block_id: {EDIT_VALUE_ACTION: text}}


def test_edit_in_part_two_runs_exactly_the_joined_text(rig: Rig) -> None:
    ticket = request_email(rig)
    view = open_edit(rig)
    assert validate_view(view.data) == []  # and views.open accepted it
    parts = parts_of(view)
    assert [label for _, label, _ in parts] == [f"body (part {n} of 3)" for n in (1, 2, 3)]
    assert "".join(text for _, _, text in parts) == BODY
    assert all(len(text.encode("utf-16-le")) // 2 <= 3000 for _, _, text in parts)

    # Each part stays within its box, but together they break the model's max_length: the
    # error comes back from the bot under the first part the reviewer changed.
    too_long = rig.sandbox.submit(REVIEWER, {**typed(parts[1][0], parts[1][2] + "y" * 500),
                                             **typed(parts[2][0], parts[2][2] + "x" * 600)})
    assert too_long.response_action == "errors" and list(too_long.errors) == [parts[1][0]]
    assert "7500" in too_long.errors[parts[1][0]]
    assert rig.ledger.decisions(ticket.id) == []

    middle = parts[1][2].replace("EUR 120", "EUR 95", 1) + "P.S. Sorry for the wait.\n"
    done = rig.sandbox.submit(REVIEWER, {**typed(parts[1][0], middle),
                                         **typed(parts[2][0], parts[2][2])})
    assert done.ok and done.response_action is None
    expected = parts[0][2] + middle + parts[2][2]
    after = settled(rig, ticket.id)
    assert after.status == TicketStatus.APPROVED and after.edited
    assert after.final_args == {"to": "ana@example.com", "subject": "Your refund",
                                "body": expected}
    assert after.final_args_hash == args_hash(after.final_args)
    decision = rig.ledger.decisions(ticket.id)[0]
    assert decision.kind == DecisionKind.EDIT and decision.args == after.final_args
    update = rig.sandbox.wait_until(lambda: next(
        (c for c in rig.sandbox.calls("chat.update") if c.args.get("ts") == rig.card_ts(ticket.id)),
        None))
    assert update.ok, update.response  # the decided card, with its long diff, fits Block Kit
    ran: list[dict[str, Any]] = []
    rig.client.gate("send_email", args_model=EmailArgs,
                    requested_by="U0REQUESTER", mode="defer")(
        lambda **kw: ran.append(kw) or "sent").resume(ticket.id)
    assert ran == [after.final_args]


def test_untouched_long_value_round_trips_and_approves_as_is(rig: Rig) -> None:
    body = "Line one\r\n  indented 👨‍👩‍👧 e\u0301 \t\n" * 200 + "   \n\n"
    ticket = request_email(rig, body)
    view = open_edit(rig)
    assert validate_view(view.data) == []
    assert len(parts_of(view)) == 3
    done = rig.sandbox.submit(REVIEWER)
    assert done.ok and done.response_action is None
    after = settled(rig, ticket.id)
    assert after.status == TicketStatus.APPROVED and not after.edited
    assert after.final_args["body"] == body
    assert json.dumps(after.final_args) == json.dumps(ticket.args)
    decision = rig.ledger.decisions(ticket.id)[0]
    assert decision.args is None and decision.args_hash == ticket.args_hash
    kinds = [e.kind for e in rig.ledger.audit_events(ticket_id=ticket.id)]
    assert "decided" in kinds and "edited" not in kinds


def test_a_client_that_tidies_text_does_not_turn_a_long_value_into_an_edit(rig: Rig) -> None:
    # Every part ends in whitespace and holds CRLFs: a tidying client changes all three.
    body = "Line one\r\n  indented 👨‍👩‍👧 e\u0301 \t\n" * 200 + "   \n\n"
    ticket = request_email(rig, body)
    rig.sandbox.set_client_text_normalisation(True)
    view = open_edit(rig)
    parts = parts_of(view)
    assert len(parts) == 3
    done = rig.sandbox.submit(REVIEWER)
    sent = done.payload["view"]["state"]["values"] if done.payload else {}
    assert sent[parts[0][0]][EDIT_VALUE_ACTION]["value"] != parts[0][2]  # really tidied
    after = settled(rig, ticket.id)
    assert after.status == TicketStatus.APPROVED and not after.edited
    assert after.final_args["body"] == body


def test_a_tidying_client_changes_only_the_part_the_reviewer_edited(rig: Rig) -> None:
    body = "Line one\r\n  indented \t\n" * 300
    ticket = request_email(rig, body)
    rig.sandbox.set_client_text_normalisation(True)
    parts = parts_of(open_edit(rig))
    edited = parts[1][2].replace("Line one", "Line 1", 1)
    rig.sandbox.submit(REVIEWER, typed(parts[1][0], edited))
    after = settled(rig, ticket.id)
    assert after.edited
    tidied = edited.replace("\r\n", "\n").rstrip()
    assert after.final_args["body"] == parts[0][2] + tidied + parts[2][2]
