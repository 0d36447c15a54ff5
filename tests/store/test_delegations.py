"""Delegations in the ledger: bounded by time, one per principal, audited; decisions made on
someone's behalf name both people and replay strictly in the audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from store.audit_replay import replay
from store.decisions import Capacity
from store.delegations import DelegationStore
from store.errors import DelegationInvalid, DuplicateApproval
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus
from tests.conftest import TicketFactory

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_a_delegation_is_active_only_within_its_period(ledger: Ledger) -> None:
    book = DelegationStore(ledger)
    made = book.delegate("U0LEAD", "U0DEP", at=T0, until=T0 + timedelta(days=3), by="ops")
    assert [d.id for d in book.active_for({"U0DEP"}, T0 + timedelta(days=1))] == [made.id]
    assert book.active_for({"U0DEP"}, T0 - timedelta(seconds=1)) == []
    assert book.active_for({"U0DEP"}, T0 + timedelta(days=3)) == []  # ends exactly then
    assert book.listing(at=T0 + timedelta(days=4)) == []
    assert [d.id for d in book.listing(at=T0 + timedelta(days=4), ended=True)] == [made.id]


def test_revocation_ends_it_and_both_changes_are_audited(ledger: Ledger) -> None:
    book = DelegationStore(ledger)
    made = book.delegate("U0LEAD", "U0DEP", at=T0, until=T0 + timedelta(days=3), by="ops")
    with pytest.raises(DelegationInvalid, match="no delegation"):
        book.revoke(made.id, at=T0 + timedelta(hours=1), by="U0DEP", principal="U0DEP")
    book.revoke(made.id, at=T0 + timedelta(hours=1), by="U0LEAD", principal="U0LEAD")
    assert book.active_for({"U0LEAD"}, T0 + timedelta(hours=2)) == []
    with pytest.raises(DelegationInvalid, match="already ended"):
        book.revoke(made.id, at=T0 + timedelta(hours=2), by="ops")
    kinds = [(e.kind, e.actor) for e in ledger.audit_events() if e.ticket_id is None
             and e.kind.startswith("delegat")]
    assert kinds == [("delegated", "ops"), ("delegation_revoked", "U0LEAD")]


@pytest.mark.parametrize(("principal", "delegate", "until", "message"), [
    ("U0LEAD", "U0LEAD", timedelta(days=1), "cannot delegate to themselves"),
    ("U0LEAD", "U0DEP", -timedelta(minutes=1), "not in the future"),
    ("U0LEAD", "U0DEP", timedelta(days=91), "at most 90 days"),
    ("alice", "U0DEP", timedelta(days=1), "not a Slack member id"),
    ("U0LEAD", "S0GROUP", timedelta(days=1), "not a Slack member id"),
])
def test_bad_delegations_say_what_to_change_and_store_nothing(
        ledger: Ledger, principal: str, delegate: str, until: timedelta, message: str) -> None:
    book = DelegationStore(ledger)
    with pytest.raises(DelegationInvalid, match=message):
        book.delegate(principal, delegate, at=T0, until=T0 + until, by="ops")
    assert book.listing(at=T0, ended=True) == []


def test_one_delegation_per_principal_and_none_to_someone_away(ledger: Ledger) -> None:
    book = DelegationStore(ledger)
    book.delegate("U0LEAD", "U0DEP", at=T0, until=T0 + timedelta(days=3), by="ops")
    with pytest.raises(DelegationInvalid, match="already delegates to U0DEP"):
        book.delegate("U0LEAD", "U0OTHER", at=T0, until=T0 + timedelta(days=1), by="ops")
    with pytest.raises(DelegationInvalid, match="is away themselves"):
        book.delegate("U0FINOPS", "U0LEAD", at=T0, until=T0 + timedelta(days=1), by="ops")
    # Once it has ended, the lead may delegate again.
    book.delegate("U0LEAD", "U0OTHER", at=T0 + timedelta(days=3),
                  until=T0 + timedelta(days=4), by="ops")


def test_a_decision_on_behalf_names_both_and_counts_as_one_person(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(approvals_required=2)
    now = ledger.db_now()
    lent = DelegationStore(ledger).delegate("U0LEAD", "U0DEP", at=now - timedelta(hours=1),
                                            until=now + timedelta(days=1), by="ops")
    as_lead = Capacity(on_behalf_of="U0LEAD", identities=frozenset({"U0DEP", "U0LEAD"}),
                       delegations=frozenset({lent.id}))
    after, decision = ledger.record_decision(ticket.id, reviewer="U0DEP",
                                             kind=DecisionKind.APPROVE, capacity=as_lead)
    assert decision.on_behalf_of == "U0LEAD" and after.acting_for == {"U0DEP": "U0LEAD"}
    with pytest.raises(DuplicateApproval, match="U0DEP already approved on behalf of U0LEAD"):
        ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE,
                               capacity=Capacity(identities=frozenset({"U0LEAD", "U0DEP"})))
    with pytest.raises(DuplicateApproval, match="U0OTHER is one person with U0LEAD"):
        ledger.record_decision(ticket.id, reviewer="U0OTHER", kind=DecisionKind.APPROVE,
                               capacity=Capacity(identities=frozenset({"U0OTHER", "U0LEAD"})))
    done, _ = ledger.record_decision(ticket.id, reviewer="U0FINOPS", kind=DecisionKind.APPROVE)
    assert done.status == TicketStatus.APPROVED
    assert ledger.verify_audit().ok


def _event(kind: str, actor: str, seq: int, **data: object) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, actor=actor, ticket_seq=seq, data=json.dumps(data))


def test_the_audit_replay_refuses_an_approval_for_the_requester_through_a_delegate() -> None:
    rows = [_event("created", "agent", 1, status="pending", args_hash="h",
                   requested_by="U0LEAD", route={"approvals_required": 1}),
            _event("decided", "U0DEP", 2, decision="approve", args_hash="h",
                   on_behalf_of="U0LEAD", status="approved", approvals=["U0DEP"])]
    found = replay(rows)
    assert found.status == TicketStatus.PENDING
    assert any("approved their own request (acting for U0LEAD)" in p for p in found.problems)


def test_the_audit_replay_refuses_one_person_counted_twice() -> None:
    rows = [_event("created", "agent", 1, status="pending", args_hash="h",
                   requested_by="U0REQ", route={"approvals_required": 2}),
            _event("decided", "U0LEAD", 2, decision="approve", args_hash="h",
                   status="pending", approvals=["U0LEAD"]),
            _event("decided", "U0DEP", 3, decision="approve", args_hash="h",
                   on_behalf_of="U0LEAD", status="approved", approvals=["U0LEAD", "U0DEP"])]
    found = replay(rows)
    assert found.status == TicketStatus.PENDING and found.approvals == ["U0LEAD"]
    assert any("approved twice" in p for p in found.problems)


def test_two_delegations_made_at_once_for_one_principal_leave_one(ledger: Ledger) -> None:
    import threading

    book = DelegationStore(ledger)
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def make(delegate: str) -> None:
        start.wait()
        try:
            book.delegate("U0LEAD", delegate, at=T0, until=T0 + timedelta(days=1), by="ops")
            outcomes.append("made")
        except DelegationInvalid:
            outcomes.append("refused")

    threads = [threading.Thread(target=make, args=(f"U0DEP{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["made", "refused", "refused", "refused"]
    assert len(book.active_for({"U0LEAD"}, T0)) == 1
