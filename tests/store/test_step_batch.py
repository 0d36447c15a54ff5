"""Recording a claimed batch of escalation steps in one transaction (``Ledger.record_batch``)
and claiming through the three indexed searches (``Ledger.claim_due``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, update

from store.ledger import Ledger
from store.models import TicketStatus
from store.steps import Cursor, Recorded, Refused, StepPlan, StepRecord, StepStatus
from store.sweep import SweepStore
from store.tables import EscalationStepRow, TicketRow
from tests.escalation.engine_support import MIN, audit_kinds, open_ticket

OWNER = "sweeper-a"


def remind(at: datetime) -> StepRecord:
    return StepRecord(0, 0, "r1", "remind", at, audit_kind="reminded",
                      audit_data={"reminder": 1})


def test_a_batch_records_every_ticket_and_moves_every_cursor(ledger: Ledger) -> None:
    base = ledger.db_now() - 6 * MIN
    tickets = [open_ticket(ledger, created=base) for _ in range(3)]
    later = base + 10 * MIN
    plans = [StepPlan(t, Cursor(0, 0, later), (remind(base + 5 * MIN),)) for t in tickets]
    results = SweepStore(ledger).record_batch(plans, owner=OWNER, release_at=base)
    for t in tickets:
        result = results[t.id]
        assert isinstance(result, Recorded)
        assert result.ticket.next_action_at == later
        assert ledger.get_ticket(t.id).next_action_at == later
        (step,) = SweepStore(ledger).escalation_steps(t.id)
        assert result.ids == {(0, 0, "r1"): step.id} and step.owner == OWNER
        assert audit_kinds(ledger, t.id)["reminded"] == 1
    assert ledger.verify_audit().ok


def test_a_step_recorded_elsewhere_loses_only_its_ticket(ledger: Ledger) -> None:
    base = ledger.db_now() - 6 * MIN
    tickets = [open_ticket(ledger, created=base) for _ in range(3)]
    with ledger.engine.begin() as conn:  # another sweeper already wrote the middle one's step
        conn.execute(insert(EscalationStepRow), [{
            "ticket_id": tickets[1].id, "loop": 0, "level": 0, "step": "r1", "kind": "remind",
            "due_at": base, "recorded_at": base, "owner": "sweeper-b",
            "status": StepStatus.SENT, "targets": [], "pending": [], "attempts": 1}])
    later = base + 10 * MIN
    plans = [StepPlan(t, Cursor(0, 0, later), (remind(base + 5 * MIN),)) for t in tickets]
    results = SweepStore(ledger).record_batch(plans, owner=OWNER, release_at=base)
    assert results[tickets[1].id] is None
    assert ledger.get_ticket(tickets[1].id).next_action_at == tickets[1].next_action_at
    assert audit_kinds(ledger, tickets[1].id)["reminded"] == 0
    for t in (tickets[0], tickets[2]):
        assert isinstance(results[t.id], Recorded)
        assert audit_kinds(ledger, t.id)["reminded"] == 1
    assert ledger.verify_audit().ok


def test_a_moved_cursor_loses_and_writes_nothing(ledger: Ledger) -> None:
    base = ledger.db_now() - 6 * MIN
    ticket = open_ticket(ledger, created=base)
    stale = ticket.model_copy(update={"next_action_at": base})  # not what the row holds
    results = SweepStore(ledger).record_batch(
        [StepPlan(stale, Cursor(0, 0, None), (remind(base),))], owner=OWNER)
    assert results == {ticket.id: None}
    assert SweepStore(ledger).escalation_steps(ticket.id) == []


def test_expiry_waits_for_the_database_clock_and_then_expires(ledger: Ledger) -> None:
    now = ledger.db_now()
    early = open_ticket(ledger, created=now)  # expires in two hours
    late = open_ticket(ledger, created=now - 3 * timedelta(hours=1))
    expire = StepRecord(0, 0, "expire", "expire", now, audit_kind="expired")
    plans = [StepPlan(t, Cursor(0, 1, None), (expire,), expire=True) for t in (early, late)]
    results = SweepStore(ledger).record_batch(plans, owner=OWNER)
    assert isinstance(results[early.id], Refused)
    assert ledger.get_ticket(early.id).status is TicketStatus.PENDING
    assert SweepStore(ledger).escalation_steps(early.id) == []
    done = results[late.id]
    assert isinstance(done, Recorded) and done.ticket.status is TicketStatus.EXPIRED
    assert ledger.get_ticket(late.id).status is TicketStatus.EXPIRED
    assert done.ticket.decided_by == "signoff"
    assert audit_kinds(ledger, late.id)["expired"] == 1


def test_claims_take_due_actions_passed_deadlines_and_due_retries(ledger: Ledger) -> None:
    now = ledger.db_now()
    quiet = open_ticket(ledger, created=now)  # nothing due for five minutes
    action = open_ticket(ledger, created=now - 6 * MIN)  # a reminder is due
    deadline = open_ticket(ledger, created=now)
    retry = open_ticket(ledger, created=now)
    with ledger.engine.begin() as conn:
        conn.execute(insert(EscalationStepRow), [{
            "ticket_id": retry.id, "loop": 0, "level": 0, "step": "n1", "kind": "notify",
            "due_at": now, "recorded_at": now, "owner": "x", "status": StepStatus.RETRYING,
            "targets": ["U0ONE"], "pending": ["U0ONE"], "attempts": 1,
            "retry_at": now - MIN}])
    _set_deadline(ledger, deadline.id, now - MIN)
    claimed = {t.id for t in SweepStore(ledger).claim_due(owner=OWNER, at=now, limit=10)}
    assert claimed == {action.id, deadline.id, retry.id}
    assert quiet.id not in claimed
    # Leased: a second sweeper at the same instant gets none of them.
    assert SweepStore(ledger).claim_due(owner="sweeper-b", at=now, limit=10) == []


def test_claims_come_earliest_first_and_respect_the_limit(ledger: Ledger) -> None:
    now = ledger.db_now()
    tickets = [open_ticket(ledger, created=now - (20 + i) * MIN) for i in range(5)]
    first = SweepStore(ledger).claim_due(owner=OWNER, at=now, limit=2)
    assert [t.id for t in first] == [tickets[4].id, tickets[3].id]


def _set_deadline(ledger: Ledger, ticket_id: str, at: datetime) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(update(TicketRow).where(TicketRow.id == ticket_id)
                     .values(expires_at=at, next_action_at=at + 60 * MIN))
