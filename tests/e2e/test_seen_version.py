"""An approval covers exactly what the approver saw: every card, DM copy and modal carries the
version of the request it shows, and a decision made on an older version records nothing.

Real sandbox, the real Bolt app behind a real HTTP server, signed clicks, a real database.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.render import (
    ACTION_APPROVE,
    ACTION_EDIT,
    ACTION_REJECT,
    CHANGED_SINCE_FORM,
    REASON_BLOCK,
    parse_button_value,
)
from bot.render.ids import BLOCK_IF_APPROVED
from bot.sandbox import Message
from store.errors import ChangedSinceSeen
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus
from tests.conftest import TicketFactory
from tests.e2e.conftest import Rig
from tests.e2e.test_escalation_slack import engine
from tests.e2e.test_reviews import RefundArgs, refund, settled, wait_ephemeral

CHANGED = "changed since you saw it"


def approve_version(msg: Message) -> int | None:
    """The ticket version the Approve button of ``msg`` is bound to."""
    for block in msg.blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == ACTION_APPROVE:
                return parse_button_value(str(element["value"])).version
    return None


def edit_amount(rig: Rig, user: str, amount: int, ts: str) -> None:
    assert rig.sandbox.click(user, action_id=ACTION_EDIT, channel="C0PAYMENTS",
                             message_ts=ts).ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views(user))
    done = rig.sandbox.submit(user, {"arg:amount": {"signoff_edit_value": str(amount)}})
    assert done.ok and done.response_action is None, done.errors


def test_a_second_approval_on_a_card_that_missed_an_edit_is_refused(rig: Rig) -> None:
    ticket = refund(rig, amount=5000)  # critical: two distinct approvers
    ts = rig.card_ts(ticket.id)
    # The edit's card update fails: the card goes on showing 5,000 and version 1.
    rig.sandbox.inject_fault("chat.update", times=1, error="internal_error")
    edit_amount(rig, "U0PAYLEAD", 4000, ts)
    edited = settled(rig, ticket.id)
    assert edited.final_args["amount"] == 4000 and edited.status == TicketStatus.PENDING
    stale = rig.sandbox.message("C0PAYMENTS", ts)
    assert stale is not None and approve_version(stale) == ticket.version
    assert "5000" in str(stale.blocks) and "4000" not in str(stale.blocks)

    rig.sandbox.click("U0FINOPS", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                      message_ts=ts)
    wait_ephemeral(rig, "U0FINOPS", CHANGED)
    assert [d.kind for d in rig.ledger.decisions(ticket.id)] == [DecisionKind.EDIT]
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    # The refusal brought the card up to date: it now shows what an approval would run.
    fresh = rig.sandbox.wait_until(lambda: next(
        (m for m in [rig.sandbox.message("C0PAYMENTS", ts)]
         if m is not None and approve_version(m) == edited.version), None))
    assert "4000" in str(fresh.blocks)

    rig.sandbox.click("U0FINOPS", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                      message_ts=ts)
    approved = settled(rig, ticket.id, decisions=2)
    assert approved.status == TicketStatus.APPROVED
    assert approved.approvals == ("U0PAYLEAD", "U0FINOPS")


def test_a_reject_typed_on_an_older_version_is_refused(rig: Rig) -> None:
    ticket = refund(rig, amount=5000)
    ts = rig.card_ts(ticket.id)
    assert rig.sandbox.click("U0FINOPS", action_id=ACTION_REJECT, channel="C0PAYMENTS",
                             message_ts=ts).ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    # Meanwhile the other approver edits the request (and the card follows).
    edit_amount(rig, "U0PAYLEAD", 4000, ts)
    settled(rig, ticket.id)
    done = rig.sandbox.submit("U0FINOPS", {REASON_BLOCK: {"signoff_reason_value": "too much"}})
    assert done.ok
    wait_ephemeral(rig, "U0FINOPS", CHANGED)
    assert [d.kind for d in rig.ledger.decisions(ticket.id)] == [DecisionKind.EDIT]
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING


def test_an_edit_form_opened_on_an_older_version_is_not_submitted(rig: Rig) -> None:
    ticket = refund(rig, amount=5000)
    ts = rig.card_ts(ticket.id)
    assert rig.sandbox.click("U0FINOPS", action_id=ACTION_EDIT, channel="C0PAYMENTS",
                             message_ts=ts).ok
    form = rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))[-1]
    edit_amount(rig, "U0PAYLEAD", 4000, ts)
    settled(rig, ticket.id)
    late = rig.sandbox.submit("U0FINOPS", {"arg:amount": {"signoff_edit_value": "3000"}},
                              view_id=form.id)
    assert late.response_action == "errors"
    assert CHANGED_SINCE_FORM in " ".join(late.errors.values())
    after = rig.ledger.get_ticket(ticket.id)
    assert after.final_args["amount"] == 4000 and after.approvals == ("U0PAYLEAD",)
    assert len(rig.ledger.decisions(ticket.id)) == 1


def test_the_ledger_checks_the_seen_version_under_the_row_lock(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(approvals_required=2)
    ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.EDIT,
                           args={"amount": 90, "customer": "cus_42"},
                           expected_version=ticket.version)
    with pytest.raises(ChangedSinceSeen):
        ledger.record_decision(ticket.id, reviewer="U0FINOPS", kind=DecisionKind.APPROVE,
                               expected_version=ticket.version)
    after = ledger.get_ticket(ticket.id)
    assert after.approvals == ("U0LEAD",) and after.status == TicketStatus.PENDING
    assert len(ledger.decisions(ticket.id)) == 1
    done, _ = ledger.record_decision(ticket.id, reviewer="U0FINOPS",
                                     kind=DecisionKind.APPROVE, expected_version=after.version)
    assert done.status == TicketStatus.APPROVED and done.final_args["amount"] == 90


def test_what_reviewers_read_after_an_edit_comes_from_the_final_arguments(rig: Rig) -> None:
    ticket = rig.client.request("issue_refund", {"amount": 2400, "customer": "cus_42"},
                                summary="Refund EUR 2,400 to cus_42",
                                reason="customer was double charged",
                                requested_by="U0REQUESTER", args_model=RefundArgs)
    ts = rig.card_ts(ticket.id)
    edit_amount(rig, "U0PAYLEAD", 2000, ts)  # critical: still needs a second approver
    edited = settled(rig, ticket.id)
    card = rig.sandbox.wait_until(lambda: next(
        (m for m in [rig.sandbox.message("C0PAYMENTS", ts)]
         if m is not None and approve_version(m) == edited.version), None))
    headline = block_text(card, BLOCK_IF_APPROVED)
    assert "2,400" not in headline and "2000" in headline and "edited" in headline
    assert "2,400" not in card.text

    # The on-call DM copy, sent after the edit, reads the same.
    engine(rig).tick(at=ticket.created_at + timedelta(minutes=10, seconds=1))
    dm = rig.sandbox.messages(rig.sandbox.dm_channel("U0PAYONCALL"))[-1]
    assert "2000" in block_text(dm, BLOCK_IF_APPROVED) and "2,400" not in shown(dm)

    assert rig.sandbox.open_app_home("U0FINOPS").ok
    home = rig.sandbox.wait_until(lambda: rig.sandbox.home("U0FINOPS"))
    listed = str(home.data["blocks"])
    assert ticket.id[:8] in listed or "issue_refund" in listed
    assert "2,400" not in listed and "2000" in listed


def block_text(msg: Message, block_id: str) -> str:
    return " ".join(str(b.get("text", {}).get("text", "")) for b in msg.blocks
                    if b.get("block_id") == block_id)


def shown(msg: Message) -> str:
    return msg.text + str(msg.blocks)
