"""Twenty deciders race on one ticket: exactly one wins, the rest get a typed error."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections import Counter
from datetime import timedelta

import pytest

from store.errors import AlreadyDecided, DeadlinePassed, TransitionRefused
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus
from tests.conftest import TicketFactory

RACERS = 20


def _kind(i: int) -> DecisionKind:
    # Mixed decisions make the race harder: approvals, rejections and edits at once.
    return [DecisionKind.APPROVE, DecisionKind.REJECT, DecisionKind.EDIT][i % 3]


def _attempt(ledger: Ledger, ticket_id: str, i: int) -> str:
    kind = _kind(i)
    args = {"amount": 100 + i} if kind == DecisionKind.EDIT else None
    try:
        ledger.record_decision(ticket_id, reviewer=f"U0REV{i:02d}", kind=kind,
                               reason="race", args=args)
        return "won"
    except AlreadyDecided as exc:
        assert exc.decided_by and exc.decided_by.startswith("U0REV")
        return "already"


def _assert_one_winner(ledger: Ledger, ticket_id: str, outcomes: list[str]) -> None:
    assert Counter(outcomes) == {"won": 1, "already": RACERS - 1}
    decisions = ledger.decisions(ticket_id)
    assert len(decisions) == 1
    events = [e for e in ledger.audit_events(ticket_id=ticket_id)
              if e.kind in ("decided", "edited")]
    assert len(events) == 1
    assert events[0].actor == decisions[0].reviewer
    ticket = ledger.get_ticket(ticket_id)
    assert ticket.decided_by == decisions[0].reviewer
    assert ticket.status in (TicketStatus.APPROVED, TicketStatus.REJECTED)
    assert ledger.verify_audit().ok


def test_threads_race_one_decision(ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    barrier = threading.Barrier(RACERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        result = _attempt(ledger, ticket.id, i)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    _assert_one_winner(ledger, ticket.id, outcomes)


def _process_main(url: str, ticket_id: str, i: int, barrier: object, queue: object) -> None:
    ledger = Ledger.open(url)
    barrier.wait()  # type: ignore[attr-defined]
    queue.put(_attempt(ledger, ticket_id, i))  # type: ignore[attr-defined]
    ledger.close()


def test_processes_race_one_decision(db_url: str, ledger: Ledger,
                                     make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(RACERS), ctx.Queue()
    procs = [ctx.Process(target=_process_main, args=(db_url, ticket.id, i, barrier, queue))
             for i in range(RACERS)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    _assert_one_winner(ledger, ticket.id, outcomes)


def test_two_person_rule_needs_distinct_reviewers(ledger: Ledger,
                                                  make_ticket: TicketFactory) -> None:
    ticket = make_ticket(approvals_required=2)
    after, _ = ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    assert after.status == TicketStatus.PENDING and after.approvals == ("U0LEAD",)
    with pytest.raises(TransitionRefused, match="already approved"):
        ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    after, _ = ledger.record_decision(ticket.id, reviewer="U0FINOPS", kind=DecisionKind.APPROVE)
    assert after.status == TicketStatus.APPROVED
    assert after.approvals == ("U0LEAD", "U0FINOPS") and after.decided_by == "U0FINOPS"


def test_one_rejection_rejects_a_two_person_ticket(ledger: Ledger,
                                                   make_ticket: TicketFactory) -> None:
    ticket = make_ticket(approvals_required=2)
    ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    after, _ = ledger.record_decision(ticket.id, reviewer="U0FINOPS",
                                      kind=DecisionKind.REJECT, reason="wrong customer")
    assert after.status == TicketStatus.REJECTED


def test_edit_voids_earlier_approvals(ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(approvals_required=2)
    ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    after, decision = ledger.record_decision(ticket.id, reviewer="U0FINOPS",
                                             kind=DecisionKind.EDIT, args={"amount": 80})
    assert after.status == TicketStatus.PENDING
    assert after.approvals == ("U0FINOPS",) and after.final_args == {"amount": 80}
    assert decision.args_hash == after.final_args_hash != after.args_hash
    after, _ = ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    assert after.status == TicketStatus.APPROVED and after.final_args == {"amount": 80}


def test_decision_after_deadline_is_refused(ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(expires_in=timedelta(milliseconds=-1))
    for kind in (DecisionKind.APPROVE, DecisionKind.REJECT, DecisionKind.TAKE_OVER):
        with pytest.raises(DeadlinePassed):
            ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=kind, reason="late")
    assert ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    assert ledger.decisions(ticket.id) == []
    assert ledger.expire(ticket.id).status == TicketStatus.EXPIRED


def test_expiry_is_refused_before_the_deadline(ledger: Ledger,
                                               make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    with pytest.raises(TransitionRefused, match="deadline"):
        ledger.expire(ticket.id)
    assert ledger.get_ticket(ticket.id).status == TicketStatus.PENDING


def test_edit_that_raises_the_tier_goes_back_for_the_right_approvers(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    from store.decisions import Reroute
    from store.models import RiskTier, Route

    ticket = make_ticket()
    stricter = Route(name="payments", channel="C0PAYMENTS", approvers=("U0CFO", "U0LEAD"),
                     approvals_required=2)
    after, _ = ledger.record_decision(
        ticket.id, reviewer="U0FINOPS", kind=DecisionKind.EDIT, args={"amount": 5000},
        reroute=Reroute(route=stricter, tier=RiskTier.CRITICAL, policy_rule="rules[1]",
                        counts=False))
    assert after.status == TicketStatus.PENDING and after.approvals == ()
    assert after.route == stricter and after.tier == RiskTier.CRITICAL
    assert after.final_args == {"amount": 5000} and after.policy_rule == "rules[1]"
    ledger.record_decision(ticket.id, reviewer="U0CFO", kind=DecisionKind.APPROVE)
    after, _ = ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    assert after.status == TicketStatus.APPROVED and after.approvals == ("U0CFO", "U0LEAD")
