"""Break-glass in the ledger: one guarded transaction each, audited, refused with nothing
written when the ticket moved on, was decided, or belongs to the responder; the audit replay
backs a break-glass approval, and an unwitnessed level is recorded once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, update

from store.breakglass import BreakGlassTerms
from store.errors import AlreadyDecided, ChangedSinceSeen, TransitionRefused
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus
from store.tables import AuditRow
from tests.conftest import TicketFactory

TERMS = BreakGlassTerms(rule="restart", witness_within=timedelta(minutes=15),
                        policy_version="2026-11-20")


def test_break_glass_approves_once_and_is_backed_by_its_events(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(approvals_required=2)
    after, decision, record = ledger.break_glass(
        ticket.id, responder="U0LEAD", justification="  outage  ", terms=TERMS,
        expected_version=ticket.version)
    assert after.status == TicketStatus.APPROVED and after.approvals == ("U0LEAD",)
    assert decision.kind == DecisionKind.BREAK_GLASS and decision.reason == "outage"
    assert record.witness_due_at == record.broken_at + timedelta(minutes=15)
    with pytest.raises(AlreadyDecided):
        ledger.break_glass(ticket.id, responder="U0FINOPS", justification="again",
                           terms=TERMS, expected_version=after.version)
    assert ledger.verify_audit().ok
    ran = ledger.start_execution(ticket.id, action=ticket.action, args=ticket.args,
                                 actor="agent")
    assert ran.status == TicketStatus.EXECUTING


def test_refusals_write_nothing(ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    cases = [
        dict(responder="U0LEAD", justification="   ", terms=TERMS, expected_version=1),
        dict(responder="U0REQUESTER", justification="mine", terms=TERMS, expected_version=1),
        dict(responder="U0LEAD", justification="old", terms=TERMS, expected_version=0),
    ]
    for case in cases:
        with pytest.raises(TransitionRefused):
            ledger.break_glass(ticket.id, **case)  # type: ignore[arg-type]
    assert ledger.decisions(ticket.id) == [] and ledger.break_glass_of(ticket.id) is None
    assert [e.kind for e in ledger.audit_events(ticket_id=ticket.id)] == ["created"]
    with pytest.raises(ChangedSinceSeen):
        ledger.break_glass(ticket.id, responder="U0LEAD", justification="x", terms=TERMS,
                           expected_version=2)
    mine = ledger.break_glass(ticket.id, responder="U0REQUESTER", justification="my own",
                              terms=TERMS.model_copy(update={"allow_self": True}),
                              expected_version=1)[0]
    assert mine.status == TicketStatus.APPROVED


def test_witness_and_unwitnessed_levels(ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    _, _, record = ledger.break_glass(ticket.id, responder="U0LEAD", justification="outage",
                                      terms=TERMS, expected_version=1)
    due = record.witness_due_at
    assert ledger.due_unwitnessed(due - timedelta(seconds=1)) == []
    assert [r.ticket_id for r in ledger.due_unwitnessed(due)] == [ticket.id]
    first = ledger.escalate_unwitnessed(ticket.id, level=1, next_at=due + timedelta(minutes=5),
                                        targets=["U0ONCALL"])
    assert first is not None and first[1].escalation_level == 1
    assert ledger.escalate_unwitnessed(ticket.id, level=1, next_at=None, targets=[]) is None
    with pytest.raises(TransitionRefused):
        ledger.witness(ticket.id, witness="U0LEAD")
    _, witnessed = ledger.witness(ticket.id, witness="U0FINOPS")
    assert witnessed.witnessed_by == "U0FINOPS" and witnessed.next_escalation_at is None
    with pytest.raises(TransitionRefused):
        ledger.witness(ticket.id, witness="U0OTHER")
    assert ledger.escalate_unwitnessed(ticket.id, level=2, next_at=None, targets=[]) is None
    kinds = [e.kind for e in ledger.audit_events(ticket_id=ticket.id)]
    assert kinds == ["created", "break_glass", "break_glass_unwitnessed",
                     "break_glass_witnessed"]
    assert ledger.break_glass_counts() == {"total": 1, "witnessed": 1, "witnessed_late": 1,
                                           "unwitnessed": 0, "escalated": 1}


def test_a_forged_break_glass_event_does_not_back_an_approval(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    ledger.break_glass(ticket.id, responder="U0REQUESTER", justification="mine",
                       terms=TERMS.model_copy(update={"allow_self": True}), expected_version=1)
    with ledger.engine.begin() as conn:  # someone removes allow_self from the event
        conn.execute(update(AuditRow).where(AuditRow.kind == "break_glass")
                     .values(data=func.replace(AuditRow.data, '"allow_self":true',
                                               '"allow_self":false')))
    report = ledger.verify_audit()
    assert not report.ok
    assert any("broke glass on their own request" in p.text for p in report.problems)


def test_a_delegation_makes_one_person_under_the_lock_too(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    """The Slack side refuses these before the form opens; the ledger refuses them again in
    the deciding transaction, so a delegation made in between cannot slip past."""
    from store.delegations import DelegationStore

    book = DelegationStore(ledger)
    now = ledger.db_now()
    ticket = make_ticket()
    # The requester lends their authority to the responder: one person for break-glass.
    lent = book.delegate("U0REQUESTER", "U0LEAD", at=now - timedelta(minutes=1),
                         until=now + timedelta(days=1), by="ops")
    with pytest.raises(TransitionRefused, match="delegation partner"):
        ledger.break_glass(ticket.id, responder="U0LEAD", justification="outage", terms=TERMS,
                           expected_version=1)
    assert ledger.decisions(ticket.id) == [] and ledger.break_glass_of(ticket.id) is None
    book.revoke(lent.id, at=ledger.db_now(), by="ops")
    ledger.break_glass(ticket.id, responder="U0LEAD", justification="outage", terms=TERMS,
                       expected_version=1)
    # The responder's delegate, and the requester's, may not witness it.
    for partner, principal in (("U0DEP", "U0LEAD"), ("U0REQDEP", "U0REQUESTER")):
        book.delegate(principal, partner, at=ledger.db_now() - timedelta(minutes=1),
                      until=ledger.db_now() + timedelta(days=1), by="ops")
        with pytest.raises(TransitionRefused, match="cannot witness"):
            ledger.witness(ticket.id, witness=partner)
    assert ledger.break_glass_of(ticket.id).witnessed_by is None  # type: ignore[union-attr]
    _, witnessed = ledger.witness(ticket.id, witness="U0FINOPS")
    assert witnessed.witnessed_by == "U0FINOPS"
