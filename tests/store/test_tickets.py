"""Opening a ticket from a draft planned at the database's clock, and recording its card
without reading the row back: what the ledger hands out must be what it stored."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from store import tickets
from store.errors import IdempotencyConflict, TicketNotFound
from store.ledger import Ledger
from store.models import DecisionKind, Evidence, NewTicket, Route, SlackRef, TicketStatus

CARD = SlackRef(role="card", channel="C0PAYMENTS", ts="1700000000.000100")


def _new(created_at: datetime, **overrides: Any) -> NewTicket:
    fields: dict[str, Any] = {
        "action": "issue_refund", "args": {"amount": 120, "customer": "cus_42"},
        "requested_by": "U0REQUESTER", "reason": "customer was double charged",
        "route": Route(name="payments", channel="C0PAYMENTS", approvers=("U0LEAD",),
                       chain="payments-oncall"),
        "policy_version": "2026-11-20", "policy_rule": "rules[2] issue_refund",
        "expires_at": created_at + timedelta(hours=1),
        "next_action_at": created_at + timedelta(minutes=10),
        "escalation": {"chain": "payments-oncall", "levels": [{"after_s": 600}]},
    }
    fields.update(overrides)
    return NewTicket(**fields)


def test_a_draft_is_planned_from_the_clock_of_the_creating_transaction(ledger: Ledger) -> None:
    seen: list[datetime] = []

    def draft(created_at: datetime) -> NewTicket:
        seen.append(created_at)
        return _new(created_at)

    before = ledger.db_now()
    ticket, created = ledger.create_ticket(draft)
    after = ledger.db_now()
    assert created and len(seen) == 1
    assert before <= seen[0] <= after
    assert ticket.created_at == seen[0]
    assert ticket.expires_at == seen[0] + timedelta(hours=1)
    assert ticket.next_action_at == seen[0] + timedelta(minutes=10)
    assert ledger.get_ticket(ticket.id) == ticket


@pytest.mark.parametrize("status", [TicketStatus.PENDING, TicketStatus.APPROVED])
def test_the_created_ticket_is_the_stored_one(ledger: Ledger, status: TicketStatus) -> None:
    ticket, _ = ledger.create_ticket(lambda at: _new(
        at, status=status, summary="refund EUR 120", confidence=0.9, agent="billing-bot",
        run_id="run-7", idempotency_key="run-7:refund",
        evidence=(Evidence(title="invoice", url="https://example.com/i/1"),),
        args_schema={"type": "object", "properties": {"amount": {"type": "integer"}}}))
    assert ledger.get_ticket(ticket.id) == ticket
    assert (ticket.decided_by == "signoff") == (status == TicketStatus.APPROVED)
    (event,) = list(ledger.audit_events(ticket_id=ticket.id))
    assert event.kind == "created" and event.actor == "billing-bot"
    assert event.data["args_hash"] == ticket.args_hash
    assert event.data["expires_at"] == ticket.expires_at.isoformat()
    assert event.data["route"]["channel"] == "C0PAYMENTS"


def test_the_same_key_returns_the_first_ticket(ledger: Ledger) -> None:
    first, created = ledger.create_ticket(lambda at: _new(at, idempotency_key="k1"))
    again, created_again = ledger.create_ticket(lambda at: _new(at, idempotency_key="k1"))
    assert created and not created_again and again.id == first.id


def test_the_same_key_for_another_request_is_a_conflict(ledger: Ledger) -> None:
    first, _ = ledger.create_ticket(lambda at: _new(at, idempotency_key="k1"))
    with pytest.raises(IdempotencyConflict):
        ledger.create_ticket(lambda at: _new(at, idempotency_key="k1", action="search_orders"))
    with pytest.raises(IdempotencyConflict):
        ledger.create_ticket(lambda at: _new(at, idempotency_key="k1",
                                             args={"amount": 40000, "customer": "cus_42"}))
    assert [t.id for t in ledger.list_tickets()] == [first.id]


@pytest.mark.postgres
@pytest.mark.parametrize("same", [True, False], ids=["same-request", "other-request"])
def test_a_draft_that_loses_the_key_race_returns_the_winner(ledger: Ledger, same: bool) -> None:
    if ledger.dialect != "postgresql":
        pytest.skip("needs two concurrent writers (PostgreSQL)")
    inserted, winner = threading.Event(), []
    rival_action = "issue_refund" if same else "search_orders"

    def compete() -> None:  # inserts the same key and commits only after a pause
        with Session(ledger.engine) as s, s.begin():
            winner.append(tickets.insert_ticket(
                s, _new(ledger.db_now(), idempotency_key="k", action=rival_action),
                ledger.db_now()))
            inserted.set()
            time.sleep(0.5)

    rival = threading.Thread(target=compete)

    def draft(created_at: datetime) -> NewTicket:
        rival.start()
        assert inserted.wait(10)
        return _new(created_at, idempotency_key="k")

    if not same:  # the winner is another request: its ticket is not handed back
        with pytest.raises(IdempotencyConflict):
            ledger.create_ticket(draft)
        rival.join()
        return
    ticket, created = ledger.create_ticket(draft)
    rival.join()
    assert not created and ticket.id == winner[0].id


def test_record_card_returns_the_stored_ticket_and_audits_it(ledger: Ledger) -> None:
    ticket, _ = ledger.create_ticket(_new)
    carded = ledger.record_card(ticket, CARD)
    assert carded.card == CARD and carded.messages == (CARD,)
    assert ledger.get_ticket(ticket.id) == carded
    posted = list(ledger.audit_events(ticket_id=ticket.id))[-1]
    assert posted.kind == "posted" and posted.actor == "signoff"
    assert posted.data == {"role": "card", "channel": CARD.channel, "ts": CARD.ts,
                           "user": None}
    assert ledger.verify_audit().ok


@pytest.mark.parametrize("change", ["decided", "dm", "delivery_failed"])
def test_record_card_reads_back_a_ticket_changed_meanwhile(ledger: Ledger,
                                                           change: str) -> None:
    stale, _ = ledger.create_ticket(_new)
    if change == "decided":
        ledger.record_decision(stale.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    elif change == "dm":
        ledger.record_message(stale.id, SlackRef(role="dm", channel="D0", ts="1.1",
                                                 user="U0LEAD"))
    else:
        ledger.mark_delivery_failed(stale.id, target="C0PAYMENTS", error="timeout")
    carded = ledger.record_card(stale, CARD)
    assert carded != stale.model_copy(update={"card": CARD, "messages": (CARD,)})
    assert ledger.get_ticket(stale.id) == carded and carded.card == CARD


def test_record_card_refuses_other_messages_and_unknown_tickets(ledger: Ledger) -> None:
    ticket, _ = ledger.create_ticket(_new)
    with pytest.raises(ValueError):
        ledger.record_card(ticket, SlackRef(role="dm", channel="D0", ts="1.1"))
    with pytest.raises(TicketNotFound):
        ledger.record_card(ticket.model_copy(update={"id": "tnothere"}), CARD)
    assert [e.kind for e in ledger.audit_events()] == ["created"]


def test_an_allowed_ticket_is_claimed_in_the_transaction_that_creates_it(
        ledger: Ledger) -> None:
    """``claim_as``: a call policy allows runs at once, so its claim rides on the creating
    transaction; the trail reads as if start_execution had run, and still verifies."""
    def allowed(created_at: datetime) -> NewTicket:
        return _new(created_at, status=TicketStatus.APPROVED, expires_at=created_at,
                    next_action_at=None, escalation=None, idempotency_key="k1")

    ticket, created = ledger.create_ticket(allowed, claim_as="mcp-proxy",
                                           lease=timedelta(minutes=5))
    assert created and ticket.status == TicketStatus.EXECUTING
    assert ticket.execution_lease_until is not None
    kinds = [e.kind for e in ledger.audit_events(ticket_id=ticket.id)]
    assert kinds == ["created", "executing"]
    # The same key again is the existing ticket, never claimed a second time.
    again, created = ledger.create_ticket(allowed, claim_as="mcp-proxy")
    assert (again.id, created, again.status) == (ticket.id, False, TicketStatus.EXECUTING)
    assert [e.kind for e in ledger.audit_events(ticket_id=ticket.id)] == kinds
    # A ticket that needs a reviewer is never claimed, whatever the caller asks.
    pending, _ = ledger.create_ticket(lambda at: _new(at), claim_as="mcp-proxy")
    assert pending.status == TicketStatus.PENDING
    assert "executing" not in [e.kind for e in ledger.audit_events(ticket_id=pending.id)]
    done = ledger.finish_execution(ticket.id, ok=True, actor="mcp-proxy", summary="read")
    assert done.status == TicketStatus.EXECUTED
    ledger.seal_audit()
    assert ledger.verify_audit().problems == []
