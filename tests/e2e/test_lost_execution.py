"""A killed execution never leaves a ticket ``executing`` forever, and never re-runs.

The executor "dies" after ``start_execution`` (it simply never reports back). Time is passed
to the sweep as a parameter: nothing sleeps. SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot import ApprovalConsumed, OutcomeUnknown
from bot.render import ACTION_APPROVE
from store.errors import AlreadyDecided, TransitionRefused
from store.ledger import Ledger
from store.models import DecisionKind, Ticket, TicketStatus
from tests.conftest import TicketFactory
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import refund, settled

LEASE = timedelta(minutes=15)


def approved(rig: Rig) -> Ticket:
    ticket = refund(rig)
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS").ok
    assert settled(rig, ticket.id).status == TicketStatus.APPROVED
    return ticket


def started_and_killed(rig: Rig, ticket: Ticket) -> Ticket:
    """What an executor does before running the tool; then it dies (no finish)."""
    return rig.ledger.start_execution(ticket.id, action=ticket.action, args=ticket.final_args,
                                      actor="agent", lease=LEASE)


def resolve(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIGNOFF_DATABASE_URL": db_url,
           "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.run([sys.executable, "-m", "bot.cli", "tickets", "resolve", *args],
                          env=env, capture_output=True, text=True, timeout=60)


def test_a_killed_execution_becomes_outcome_unknown_after_its_lease_and_never_reruns(
        rig: Rig, db_url: str) -> None:
    ticket = started_and_killed(rig, approved(rig))
    started = rig.ledger.get_ticket(ticket.id)
    assert started.status == TicketStatus.EXECUTING and started.execution_lease_until
    engine = rig.service.engine()
    now = rig.ledger.db_now()

    assert engine.tick(at=now + LEASE - timedelta(seconds=1)).outcomes_unknown == 0
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.EXECUTING
    assert engine.tick(at=now + LEASE + timedelta(seconds=1)).outcomes_unknown == 1
    lost = rig.ledger.get_ticket(ticket.id)
    assert lost.status == TicketStatus.OUTCOME_UNKNOWN
    assert engine.tick(at=now + 2 * LEASE).outcomes_unknown == 0  # said once

    kinds = [e.kind for e in rig.ledger.audit_events(ticket_id=ticket.id)]
    assert kinds[-2:] == ["executing", "outcome_unknown"]
    assert rig.ledger.verify_audit().ok
    thread = rig.sandbox.thread("C0PAYMENTS", rig.card_ts(ticket.id))
    assert [m for m in thread if "Outcome unknown" in m.text
            and f"signoff tickets resolve {ticket.id}" in str(m.blocks)]
    card = rig.sandbox.message("C0PAYMENTS", rig.card_ts(ticket.id))
    assert card is not None and "Outcome unknown" in str(card.blocks)

    ran: list[dict[str, object]] = []
    with pytest.raises(OutcomeUnknown) as info:  # the agent asks again: a typed refusal
        rig.client.execute(ticket.id, lambda **kw: ran.append(kw), action=ticket.action)
    assert isinstance(info.value, ApprovalConsumed) and "signoff tickets resolve" in str(
        info.value)
    assert ran == []


def test_a_human_resolves_it_through_the_cli_audited_with_who(rig: Rig, db_url: str) -> None:
    ticket = started_and_killed(rig, approved(rig))
    rig.ledger.lose_executions(at=rig.ledger.db_now() + 2 * LEASE)

    empty = resolve(db_url, ticket.id, "--outcome", "succeeded", "--note", " ", "--by", "ops")
    assert empty.returncode == 1 and "--note" in empty.stderr
    done = resolve(db_url, ticket.id, "--outcome", "succeeded", "--note",
                   "refund re_123 is in Stripe", "--by", "U0PAYLEAD")
    assert done.returncode == 0, done.stderr
    after = rig.ledger.get_ticket(ticket.id)
    assert after.status == TicketStatus.EXECUTED and after.outcome is not None
    assert after.outcome.ok and after.outcome.summary == "refund re_123 is in Stripe"
    event = list(rig.ledger.audit_events(ticket_id=ticket.id))[-1]
    assert (event.kind, event.actor) == ("outcome_resolved", "U0PAYLEAD")
    assert event.data["outcome"] == "succeeded"

    again = resolve(db_url, ticket.id, "--outcome", "failed", "--note", "x", "--by", "ops")
    assert again.returncode == 1 and "executed" in again.stderr
    with pytest.raises(ApprovalConsumed):
        rig.client.execute(ticket.id, lambda **kw: kw, action=ticket.action)


def test_only_lost_executions_can_be_resolved_by_hand(ledger: Ledger,
                                                      make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    with pytest.raises(TransitionRefused):
        ledger.resolve_outcome(ticket.id, ok=True, actor="ops", note="n")
    ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    ledger.start_execution(ticket.id, action=ticket.action, args=ticket.args, actor="agent",
                           lease=LEASE)
    with pytest.raises(AlreadyDecided):  # still within its lease: nobody may guess yet
        ledger.resolve_outcome(ticket.id, ok=False, actor="ops", note="n")
    with pytest.raises(TransitionRefused, match="lease runs until"):
        ledger.lose_execution(ticket.id, at=ledger.db_now())


def test_the_executor_reporting_late_settles_it(ledger: Ledger,
                                                make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    ledger.start_execution(ticket.id, action=ticket.action, args=ticket.args, actor="agent",
                           lease=LEASE)
    [lost] = ledger.lose_executions(at=ledger.db_now() + LEASE + timedelta(seconds=1))
    assert lost.status == TicketStatus.OUTCOME_UNKNOWN
    done = ledger.finish_execution(ticket.id, ok=True, actor="agent", summary="refunded")
    assert done.status == TicketStatus.EXECUTED
    assert list(ledger.audit_events(ticket_id=ticket.id))[-1].data.get("late") is True


def test_replicas_mark_each_lost_execution_exactly_once(db_url: str,
                                                        make_ticket: TicketFactory,
                                                        ledger: Ledger) -> None:
    for _ in range(30):
        t = make_ticket()
        ledger.record_decision(t.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
        ledger.start_execution(t.id, action=t.action, args=t.args, actor="agent",
                               lease=LEASE)
    at = ledger.db_now() + 2 * LEASE
    replicas = [Ledger.open(db_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            batches = list(pool.map(lambda r: _drain(r, at), replicas))
    finally:
        for r in replicas:
            r.close()
    ids = [t for batch in batches for t in batch]
    assert len(ids) == len(set(ids)) == 30
    lost = [e for e in ledger.audit_events() if e.kind == "outcome_unknown"]
    assert len(lost) == 30


def _drain(ledger: Ledger, at: datetime) -> list[str]:
    out: list[str] = []
    while batch := ledger.lose_executions(at=at, limit=4):
        out += [t.id for t in batch]
    return out
