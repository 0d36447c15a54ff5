"""Audited writes take no global lock; the sealer seals every committed event exactly once,
whatever order transactions commit in; a ticket row that its events do not back is named
by ``audit verify`` and never executes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from store import audit
from store.audit import event_hash
from store.errors import ApprovalUnverifiable
from store.ledger import Ledger
from store.models import (
    DecisionKind,
    NewTicket,
    Route,
    TicketStatus,
    args_hash,
    canonical_json,
)
from store.sweep import SweepStore
from store.tables import AuditRow, TicketRow
from tests.conftest import TicketFactory


def _flip(ledger: Ledger, ticket_id: str, **values: object) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(update(TicketRow).where(TicketRow.id == ticket_id).values(**values))


def _kinds(ledger: Ledger, ticket_id: str) -> list[str]:
    return [e.kind for e in ledger.audit_events(ticket_id=ticket_id)]


def test_ticket_flipped_to_approved_is_named_and_never_executes(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    _flip(ledger, ticket.id, status="approved")
    report = ledger.verify_audit()
    assert not report.ok
    assert any(p.ticket_id == ticket.id and "its events lead to pending" in p.text
               for p in report.problems), report
    with pytest.raises(ApprovalUnverifiable, match=ticket.id):
        ledger.start_execution(ticket.id, action=ticket.action, args=ticket.args, actor="agent")
    assert ledger.get_ticket(ticket.id).status is TicketStatus.APPROVED  # nothing ran
    assert _kinds(ledger, ticket.id)[-1] == "execution_refused"  # and it is on the record


def test_approved_arguments_swapped_after_the_approval_never_execute(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    other = {"amount": 40_000, "customer": "cus_42"}
    _flip(ledger, ticket.id, final_args=other, final_args_hash=args_hash(other))
    with pytest.raises(ApprovalUnverifiable):
        ledger.start_execution(ticket.id, action=ticket.action, args=other, actor="agent")
    assert not ledger.verify_audit().ok


def test_a_second_approval_flipped_in_by_sql_never_executes(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(approvals_required=2)
    ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    _flip(ledger, ticket.id, status="approved", approvals=["U0LEAD", "U0FINOPS"])
    with pytest.raises(ApprovalUnverifiable, match="approvals"):
        ledger.start_execution(ticket.id, action=ticket.action, args=ticket.args, actor="agent")


def test_forged_approval_event_without_the_key_never_executes(db_url: str) -> None:
    keyed = Ledger.open(db_url, audit_key=b"k3y")
    now = keyed.db_now()
    ticket, _ = keyed.create_ticket(NewTicket(
        action="issue_refund", args={"amount": 5}, requested_by="U0REQ",
        route=Route(channel="C1", approvers=("U0LEAD",)), policy_version="v1",
        expires_at=now + timedelta(hours=1)))
    (created,) = [r for r in _rows(keyed) if r["ticket_id"] == ticket.id]
    data = canonical_json({"approvals": ["U0LEAD"], "args_hash": ticket.final_args_hash,
                           "decision": "approve", "status": "approved"})
    forged = {**created, "seq": created["seq"] + 100, "ticket_seq": 2, "kind": "decided",
              "actor": "U0LEAD", "data": data, "prev_hash": created["hash"],
              "seal": None, "seal_hash": None, "sealed_at": None}
    forged["hash"] = event_hash(ticket_id=ticket.id, ticket_seq=2, kind="decided",
                                actor="U0LEAD", at=created["at"], data_json=data,
                                prev_hash=created["hash"], key=None)  # no key: plain SHA-256
    with keyed.engine.begin() as conn:
        conn.execute(insert(AuditRow.__table__).values(**forged))
    _flip(keyed, ticket.id, status="approved", approvals=["U0LEAD"])
    with pytest.raises(ApprovalUnverifiable, match="hash mismatch"):
        keyed.start_execution(ticket.id, action=ticket.action, args=ticket.args, actor="agent")
    keyed.close()


def _rows(ledger: Ledger) -> list[dict[str, object]]:
    with ledger.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(AuditRow.__table__)
                                              .order_by(AuditRow.seq)).mappings()]


def test_genuine_flows_replay_clean_and_execute(ledger: Ledger,
                                                make_ticket: TicketFactory) -> None:
    """Two approvers after an edit; an info round trip; a rejection; a policy-allowed run."""
    two = make_ticket(approvals_required=2)
    edited = {"amount": 90, "customer": "cus_42"}
    ledger.record_decision(two.id, reviewer="U0LEAD", kind=DecisionKind.REQUEST_INFO)
    ledger.answer_info(two.id, actor="agent", text="it was a double charge")
    ledger.record_decision(two.id, reviewer="U0LEAD", kind=DecisionKind.EDIT, args=edited)
    ledger.record_decision(two.id, reviewer="U0FINOPS", kind=DecisionKind.APPROVE)
    ledger.start_execution(two.id, action=two.action, args=edited, actor="agent")
    ledger.finish_execution(two.id, ok=True, actor="agent", summary="refunded")
    ledger.record_decision(make_ticket().id, reviewer="U0LEAD", kind=DecisionKind.REJECT,
                           reason="no")
    allowed = make_ticket(status=TicketStatus.APPROVED)
    ledger.start_execution(allowed.id, action=allowed.action, args=allowed.args, actor="agent")
    ledger.seal_audit()
    report = ledger.verify_audit()
    assert report.ok, report
    assert (report.tickets, report.unsealed) == (3, 0)


def test_verify_reports_events_not_sealed_yet(ledger: Ledger,
                                              make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    if ledger.dialect == "sqlite":  # one writer at a time: each write seals its own events
        assert ledger.verify_audit().sealed == 1 and ledger.seal_audit() == []
        return
    report = ledger.verify_audit()
    assert report.ok and (report.sealed, report.unsealed) == (0, 1)
    assert "1 not sealed yet" in str(report) and "oldest event not sealed yet" in str(report)
    assert report.oldest_unsealed == ledger.get_ticket(ticket.id).created_at
    assert ledger.seal_audit() and ledger.seal_audit() == []  # sealed once, then nothing
    assert ledger.verify_audit().sealed == 1


@pytest.mark.postgres
def test_a_write_never_waits_on_another_tickets_audit_append(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    if ledger.dialect != "postgresql":
        pytest.skip("two concurrent writers need PostgreSQL")
    busy, free = make_ticket(), make_ticket()
    done = threading.Event()
    with ledger._tx() as s:  # ticket "busy" is mid-write: its event appended, not committed
        ledger._lock(s, busy.id)
        audit.append(s, ticket_id=busy.id, kind="note", actor="x", data={},
                     at=ledger._now(s), key=None)
        writer = threading.Thread(target=lambda: (
            ledger.record_decision(free.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE),
            done.set()))
        writer.start()
        assert done.wait(timeout=10), "an unrelated ticket's write waited for this one"
    writer.join()
    ledger.seal_audit()
    assert ledger.verify_audit().ok


@pytest.mark.postgres
def test_events_committed_out_of_seq_order_are_all_sealed_once(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    if ledger.dialect != "postgresql":
        pytest.skip("out-of-order commits need concurrent writers (PostgreSQL)")
    early, late = make_ticket(), make_ticket()
    ledger.seal_audit()
    with ledger._tx() as s:  # takes a seq first, commits last
        ledger._lock(s, early.id)
        slow = audit.append(s, ticket_id=early.id, kind="note", actor="x", data={},
                            at=ledger._now(s), key=None)
        fast = ledger.record_event(late.id, "note")
        assert fast.seq > slow.seq
        assert ledger.seal_audit() == [fast.seq]  # the committed one; the other is unseen
    assert ledger.seal_audit() == [slow.seq]  # sealed by the next round, after its commit
    report = ledger.verify_audit()
    assert report.ok and report.unsealed == 0 and report.sealed == 4, report


@pytest.mark.postgres
def test_concurrent_sealers_and_writers_seal_each_event_exactly_once(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    if ledger.dialect != "postgresql":
        pytest.skip("concurrent sealers need PostgreSQL")
    tickets = [make_ticket() for _ in range(8)]
    stop = threading.Event()
    sealed: list[int] = []

    def seal() -> None:
        while not stop.is_set():
            sealed.extend(ledger.seal_audit())

    def write(ticket_id: str) -> None:
        for i in range(15):
            ledger.record_event(ticket_id, "note", i=i)

    sealers = [threading.Thread(target=seal) for _ in range(3)]
    writers = [threading.Thread(target=write, args=(t.id,)) for t in tickets]
    for t in sealers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in sealers:
        t.join()
    sealed.extend(ledger.seal_audit())
    assert sorted(sealed) == sorted(set(sealed)) and len(sealed) == 8 + 8 * 15
    report = ledger.verify_audit()
    assert report.ok and report.sealed == len(sealed) and report.unsealed == 0, report


def test_the_scheduler_seals_within_a_second(ledger: Ledger,
                                             make_ticket: TicketFactory) -> None:
    import time

    from escalation.engine import EscalationEngine
    from escalation.scheduler import SEAL_EVERY, start_scheduler
    from tests.escalation.recording_notifier import RecordingNotifier

    engine = EscalationEngine(SweepStore(ledger), None, RecordingNotifier(), owner="replica-s")
    scheduler = start_scheduler(engine, timedelta(minutes=10))
    try:
        ticket = make_ticket()
        written = time.monotonic()
        while ledger.verify_audit().unsealed and time.monotonic() - written < 5:
            time.sleep(0.02)
        assert ledger.verify_audit().sealed == 1
        assert time.monotonic() - written < 1.0 + SEAL_EVERY.total_seconds()
        assert ticket.id in [e.ticket_id for e in ledger.audit_events()]
    finally:
        scheduler.shutdown(wait=True)
