"""Each ticket status becomes the decision LangChain's HumanInTheLoopMiddleware expects."""

from __future__ import annotations

import pytest

from bot import ApprovalNeedsInfo, ApprovalPending
from bot.integrations.langchain import decision_for
from store.models import Ticket, TicketStatus

ARGS = {"amount": 120, "customer": "cus_42"}


def ticket(status: TicketStatus, final_args: dict[str, object] | None = None) -> Ticket:
    final = final_args or ARGS
    return Ticket.model_construct(id="t1", action="issue_refund", status=status, args=ARGS,
                                  args_hash="h-proposed",
                                  final_args=final,
                                  final_args_hash="h-proposed" if final == ARGS else "h-edit")


@pytest.mark.parametrize("status", [TicketStatus.APPROVED, TicketStatus.EXECUTING,
                                    TicketStatus.EXECUTED, TicketStatus.FAILED,
                                    TicketStatus.OUTCOME_UNKNOWN])
def test_an_approval_is_approve_or_the_edit_with_the_approved_args(status: TicketStatus) -> None:
    assert decision_for(ticket(status)) == {"type": "approve"}
    edited = {"amount": 80, "customer": "cus_42"}
    assert decision_for(ticket(status, edited)) == {
        "type": "edit", "edited_action": {"name": "issue_refund", "args": edited}}


def test_the_other_ends_are_rejections_or_a_response_saying_nothing_ran() -> None:
    assert decision_for(ticket(TicketStatus.REJECTED), "already refunded") == {
        "type": "reject", "message": "already refunded"}
    assert decision_for(ticket(TicketStatus.REJECTED)) == {"type": "reject"}
    expired = decision_for(ticket(TicketStatus.EXPIRED))
    assert expired["type"] == "reject" and "expired and nothing ran" in expired["message"]
    taken = decision_for(ticket(TicketStatus.TAKEN_OVER))
    assert taken["type"] == "respond" and "did not run it" in taken["message"]
    cancelled = decision_for(ticket(TicketStatus.CANCELLED))
    assert cancelled["type"] == "reject" and "nothing ran" in cancelled["message"]


def test_a_pending_ticket_or_an_open_question_has_no_decision_yet() -> None:
    with pytest.raises(ApprovalPending):
        decision_for(ticket(TicketStatus.PENDING))
    with pytest.raises(ApprovalNeedsInfo) as asked:
        decision_for(ticket(TicketStatus.NEEDS_INFO), "which order?")
    assert asked.value.question == "which order?"
