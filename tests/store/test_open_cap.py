"""An agent's cap of open requests, counted in the transaction that opens one more."""

from __future__ import annotations

import pytest

from store.agents import AgentStore
from store.canaries import CanaryStore
from store.errors import OpenRequestsCapped
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus
from store.tickets import OpenCap
from tests.store.test_tickets import _new

CAP = OpenCap("loop-bot", 2)


def _open(ledger: Ledger, n: int, **overrides: object) -> tuple[str, bool]:
    now = ledger.db_now()
    ticket, created = ledger.create_ticket(
        _new(now, agent="loop-bot", args={"amount": n, "customer": "cus_42"}, **overrides),
        cap=CAP)
    return ticket.id, created


def test_the_cap_counts_pending_and_questioned_requests_not_canaries(ledger: Ledger) -> None:
    AgentStore(ledger).add("loop-bot", actions=("*",), max_pending=2)
    first, _ = _open(ledger, 1)
    CanaryStore(ledger).create_canary(_new(ledger.db_now(), agent="loop-bot"),
                                      name="refund-to-self", lesson="never")
    _open(ledger, 2)  # the canary is no request of the agent's: this one still fits
    ledger.record_decision(first, reviewer="U0LEAD", kind=DecisionKind.REQUEST_INFO,
                           reason="which order?")
    events = len(list(ledger.audit_events()))
    with pytest.raises(OpenRequestsCapped, match="already has 2 open requests"):
        _open(ledger, 3)  # a question keeps the request open
    assert len(list(ledger.audit_events())) == events
    assert sorted(t.args["amount"] for t in ledger.list_tickets() if t.canary is None) == [1, 2]


def test_at_the_cap_a_retry_and_an_allowed_call_are_not_refused(ledger: Ledger) -> None:
    AgentStore(ledger).add("loop-bot", actions=("*",), max_pending=2)
    _open(ledger, 1)
    second, created = _open(ledger, 2, idempotency_key="k2")
    assert created
    again, created = _open(ledger, 2, idempotency_key="k2")
    assert again == second and not created  # the same request: it opens nothing more
    now = ledger.db_now()
    allowed, created = ledger.create_ticket(
        _new(now, agent="loop-bot", status=TicketStatus.APPROVED, expires_at=now,
             next_action_at=None, escalation=None), cap=CAP)
    assert created and allowed.status == TicketStatus.APPROVED  # nobody reviews it
    with pytest.raises(OpenRequestsCapped):
        _open(ledger, 3)
