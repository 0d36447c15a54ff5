"""An approval runs only the action it approved, and an idempotency key names one request.

Every case goes through the real client, the real bot behind the real server and a real
database (SQLite and PostgreSQL): nothing approved for one action may run another tool.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot import (
    ActionMismatch,
    ApprovalClient,
    ApprovalPending,
    IdempotencyConflict,
    SignoffError,
    TicketStatus,
)
from bot.render import ACTION_APPROVE
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import RefundArgs, settled

REFUND = {"amount": 40000, "customer": "cus_42"}


def _refund_tool(rig: Rig, ran: list[dict[str, Any]]) -> Any:
    return rig.client.gate("issue_refund", args_model=RefundArgs, mode="defer",
                           requested_by="U0REQUESTER")(
        lambda **kw: ran.append(kw) or "refunded")


def _allowed_search(rig: Rig, **kw: Any) -> Any:
    ticket = rig.client.request("search_orders", {"q": "cus_42"}, reason="lookup",
                                requested_by="U0REQUESTER", **kw)
    assert ticket.status == TicketStatus.APPROVED  # policy allows it: nobody reviewed it
    return ticket


def _refused_and_unconsumed(rig: Rig, ticket_id: str) -> None:
    assert rig.ledger.get_ticket(ticket_id).status == TicketStatus.APPROVED
    kinds = [e.kind for e in rig.ledger.audit_events(ticket_id=ticket_id)]
    assert "executing" not in kinds


def test_an_allowed_search_ticket_cannot_run_a_refund(rig: Rig) -> None:
    search = _allowed_search(rig)
    ran: list[dict[str, Any]] = []
    gated = _refund_tool(rig, ran)
    with pytest.raises(ActionMismatch) as through_gate:
        gated.resume(search.id)
    assert "search_orders" in str(through_gate.value) and "issue_refund" in str(through_gate.value)
    with pytest.raises(ActionMismatch):
        rig.client.resume(search.id, gated)
    with pytest.raises(ActionMismatch):
        rig.client.execute(search.id, lambda **kw: ran.append(kw), action="issue_refund")
    assert ran == []
    _refused_and_unconsumed(rig, search.id)
    refusals = [e for e in rig.ledger.audit_events(ticket_id=search.id)
                if e.kind == "execution_refused"]
    assert [e.data["offered_action"] for e in refusals] == ["issue_refund"] * 3
    # The approval is still there for the action it was given to.
    assert rig.client.execute(search.id, lambda q: f"found {q}",
                              action="search_orders") == "found cus_42"


def test_a_bare_callable_must_name_its_action(rig: Rig) -> None:
    search = _allowed_search(rig)
    ran: list[dict[str, Any]] = []
    with pytest.raises(ActionMismatch) as info:
        rig.client.execute(search.id, lambda **kw: ran.append(kw))
    assert "action=" in str(info.value)
    with pytest.raises(ActionMismatch):
        rig.client.resume(search.id, lambda **kw: ran.append(kw))
    assert ran == []
    _refused_and_unconsumed(rig, search.id)


def test_the_store_refuses_another_action_whoever_calls_it(rig: Rig) -> None:
    search = _allowed_search(rig)
    with pytest.raises(ActionMismatch):
        rig.ledger.start_execution(search.id, action="issue_refund", args=search.final_args,
                                   actor="agent")
    _refused_and_unconsumed(rig, search.id)


def test_a_key_reused_for_another_action_is_a_conflict_and_runs_nothing(rig: Rig) -> None:
    search = _allowed_search(rig, idempotency_key="run-1:step-3")
    ran: list[dict[str, Any]] = []
    with pytest.raises(IdempotencyConflict) as info:
        rig.client.call(lambda **kw: ran.append(kw) or "refunded", dict(REFUND),
                        action="issue_refund", reason="refund", requested_by="U0REQUESTER",
                        idempotency_key="run-1:step-3")
    assert isinstance(info.value, SignoffError) and info.value.ticket_id == search.id
    assert "new key" in str(info.value)
    with pytest.raises(IdempotencyConflict):
        rig.client.request("issue_refund", dict(REFUND), reason="refund",
                           requested_by="U0REQUESTER", idempotency_key="run-1:step-3")
    assert ran == []
    assert [t.id for t in rig.ledger.list_tickets()] == [search.id]
    assert rig.sandbox.calls("chat.postMessage") == []


def test_a_key_reused_with_other_arguments_is_a_conflict(rig: Rig) -> None:
    first = rig.client.request("issue_refund", {"amount": 120, "customer": "cus_42"},
                               reason="refund", requested_by="U0REQUESTER",
                               idempotency_key="k-7")
    with pytest.raises(IdempotencyConflict) as info:
        rig.client.request("issue_refund", {"amount": 40000, "customer": "cus_42"},
                           reason="refund", requested_by="U0REQUESTER", idempotency_key="k-7")
    assert "other arguments" in str(info.value)
    # The same request again (keys in another order) is the same ticket, and no second card.
    again = rig.client.request("issue_refund", {"customer": "cus_42", "amount": 120},
                               reason="refund", requested_by="U0REQUESTER",
                               idempotency_key="k-7")
    assert again.id == first.id
    assert len(rig.sandbox.calls("chat.postMessage")) == 1


def test_resume_with_the_gated_tool_runs_the_approved_arguments_once(rig: Rig) -> None:
    ran: list[dict[str, Any]] = []
    gated = _refund_tool(rig, ran)
    with pytest.raises(ApprovalPending) as pending:
        gated(amount=120, customer="cus_42", _reason="double charge")
    ticket_id = pending.value.ticket_id
    assert ticket_id is not None
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket_id)
    assert rig.client.resume(ticket_id, gated) == "refunded"
    assert ran == [{"amount": 120, "customer": "cus_42"}]
    final = rig.ledger.get_ticket(ticket_id)
    assert final.status == TicketStatus.EXECUTED and final.outcome is not None
    assert final.outcome.ok
    cards = [c for c in rig.sandbox.calls("chat.postMessage") if "thread_ts" not in c.args]
    assert len(cards) == 1  # no second request was posted
    assert [t.id for t in rig.ledger.list_tickets()] == [ticket_id]


def test_every_transport_binds_the_action_and_the_key(rig: Rig, client: ApprovalClient) -> None:
    """The same guarantees through the HTTP gateway as in process (the ``client`` fixture
    runs both)."""
    search = client.request("search_orders", {"q": "cus_42"}, reason="lookup",
                            requested_by="U0REQUESTER", idempotency_key="run-9:step-1")
    ran: list[dict[str, Any]] = []
    refund = client.gate("issue_refund", mode="defer", requested_by="U0REQUESTER")(
        lambda **kw: ran.append(kw) or "refunded")
    with pytest.raises(ActionMismatch):
        refund.resume(search.id)
    with pytest.raises(ActionMismatch):
        client.execute(search.id, lambda **kw: ran.append(kw), action="issue_refund")
    with pytest.raises(IdempotencyConflict):
        client.request("issue_refund", dict(REFUND), reason="refund",
                       requested_by="U0REQUESTER", idempotency_key="run-9:step-1")
    assert ran == []
    _refused_and_unconsumed(rig, search.id)
    search_tool = client.gate("search_orders", requested_by="U0REQUESTER")(
        lambda q: f"found {q}")
    assert client.resume(search.id, search_tool) == "found cus_42"
