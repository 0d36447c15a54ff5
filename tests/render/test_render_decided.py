"""The card after a decision, for every status it can end in."""

from __future__ import annotations

import pytest

from bot.render import MASK, render_card
from store.models import Decision, DecisionKind, Route, TicketStatus
from tests.render.render_checks import (
    APPROVER,
    APPROVER2,
    NOW,
    assert_fits_message,
    block,
    everything,
    has_block,
    make_ticket,
    outcome,
    text_of,
)


def _decision(kind: DecisionKind, reason: str | None, reviewer: str = APPROVER) -> Decision:
    return Decision(id=7, ticket_id="t", reviewer=reviewer, kind=kind, reason=reason, args=None,
                    args_hash=None, at=NOW, policy_version="2025-03-01")


DECIDED = {
    TicketStatus.APPROVED: "✅ *Approved*",
    TicketStatus.REJECTED: "❌ *Rejected*",
    TicketStatus.EXPIRED: "⏰ *Expired* — nobody decided in time; nothing was executed.",
    TicketStatus.CANCELLED: "🚫 *Cancelled*",
    TicketStatus.TAKEN_OVER: "🙋 *Taken over*",
    TicketStatus.EXECUTING: "⏳ *Approved, running*",
    TicketStatus.EXECUTED: "⚙️ *Executed*",
    TicketStatus.FAILED: "💥 *Failed*",
}


@pytest.mark.parametrize("status", list(DECIDED))
def test_every_final_status_replaces_the_buttons_with_an_outcome(status: TicketStatus) -> None:
    decided = status != TicketStatus.EXPIRED
    ticket = make_ticket(
        status=status,
        decided_by=APPROVER if decided else None,
        decided_at=NOW if decided else None,
        approvals=(APPROVER,) if status in (
            TicketStatus.APPROVED, TicketStatus.EXECUTING, TicketStatus.EXECUTED,
            TicketStatus.FAILED) else (),
    )
    message = render_card(ticket)
    assert_fits_message(message)
    blocks = message["blocks"]
    assert not any(b["type"] == "actions" for b in blocks)
    line = text_of(block(blocks, "signoff_outcome"))
    assert line.startswith(DECIDED[status])
    if decided:
        assert f"by <@{APPROVER}>" in line
        assert f"<!date^{int(NOW.timestamp())}^" in line
    assert message["text"].startswith(DECIDED[status].replace("*", "").split(" —")[0])
    assert blocks[0]["text"]["text"] == "🟠 high · issue_refund"
    assert block(blocks, "signoff_ticket")


def test_rejection_shows_the_reason() -> None:
    ticket = make_ticket(status=TicketStatus.REJECTED, decided_by=APPROVER, decided_at=NOW)
    rejected = _decision(DecisionKind.REJECT, "Refund exceeds the <order> total")
    message = render_card(ticket, decisions=[rejected])
    reason = text_of(block(message["blocks"], "signoff_decision_reason"))
    assert reason == "*Reason:* Refund exceeds the &lt;order&gt; total"


def test_approved_with_edits_shows_the_diff() -> None:
    args = {"amount": 120.5, "currency": "EUR", "memo": "dup", "token": "tok_live_abcdef"}
    final = {"amount": 100, "currency": "EUR", "note": "partial", "token": "tok_live_zzzzzz"}
    ticket = make_ticket(args=args, final_args=final, status=TicketStatus.APPROVED,
                         decided_by=APPROVER, decided_at=NOW, approvals=(APPROVER,))
    message = render_card(ticket, decisions=[_decision(DecisionKind.EDIT, "cap at 100")])
    assert_fits_message(message)
    blocks = message["blocks"]
    assert text_of(block(blocks, "signoff_outcome")).startswith("✏️ *Approved with edits* by")
    diff = text_of(block(blocks, "signoff_diff"))
    assert "*amount*: `120.5` → `100`" in diff
    assert "*memo*: dup → _(not set)_" in diff
    assert "*note*: _(not set)_ → partial" in diff
    assert f"*token*: {MASK} → {MASK}" in diff
    assert "currency" not in diff
    assert "tok_live" not in everything(message)
    assert "*Reason:* cap at 100" in text_of(block(blocks, "signoff_decision_reason"))
    assert message["text"].startswith("✏️ Approved with edits")


def test_two_approvers_are_both_named() -> None:
    ticket = make_ticket(status=TicketStatus.APPROVED, approvals=(APPROVER, APPROVER2),
                         decided_by=APPROVER2, decided_at=NOW,
                         route=Route(channel="C1", approvals_required=2))
    line = text_of(block(render_card(ticket)["blocks"], "signoff_outcome"))
    assert f"by <@{APPROVER}>, <@{APPROVER2}>" in line


def test_executed_and_failed_show_the_result() -> None:
    done = make_ticket(status=TicketStatus.EXECUTED, approvals=(APPROVER,), decided_at=NOW,
                       outcome=outcome(True, "Refund re_1 created"))
    assert "*Result:* Refund re_1 created" in text_of(
        block(render_card(done)["blocks"], "signoff_result"))
    failed = make_ticket(status=TicketStatus.FAILED, approvals=(APPROVER,), decided_at=NOW,
                         outcome=outcome(False, "card_declined <!here>"))
    result = text_of(block(render_card(failed)["blocks"], "signoff_result"))
    assert "*Error:* card_declined &lt;!here&gt;" in result


def test_taken_over_names_who_owns_it_now() -> None:
    ticket = make_ticket(status=TicketStatus.TAKEN_OVER, decided_by=APPROVER2, decided_at=NOW)
    message = render_card(ticket, decisions=[
        _decision(DecisionKind.TAKE_OVER, "I'll call the customer", APPROVER2)])
    assert f"🙋 *Taken over* by <@{APPROVER2}>" in text_of(
        block(message["blocks"], "signoff_outcome"))
    assert "I'll call the customer" in text_of(block(message["blocks"], "signoff_decision_reason"))


def test_expired_card_says_nothing_ran_and_has_no_decision_reason() -> None:
    ticket = make_ticket(status=TicketStatus.EXPIRED)
    message = render_card(ticket, decisions=[_decision(DecisionKind.APPROVE, "looks fine")])
    assert not has_block(message["blocks"], "signoff_decision_reason")
    assert "nothing was executed" in text_of(block(message["blocks"], "signoff_outcome"))
