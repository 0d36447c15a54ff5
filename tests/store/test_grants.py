"""Standing grants in the ledger: made with their approval or not at all, each use one
guarded UPDATE (never over-used, even by racing requests), and gone at once when revoked."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import update

from store.db import db_now
from store.errors import GrantNotAllowed
from store.grant_store import GrantStore
from store.grants import Bound, GrantSpec, grant_expiry, outside_bounds, propose_bounds
from store.ledger import Ledger
from store.models import DecisionKind, NewTicket, RiskTier, Route, TicketStatus
from store.tables import GrantRow, TicketRow
from tests.conftest import TicketFactory

ROUTE = Route(name="payments", channel="C0PAYMENTS", approvers=("U0LEAD", "U0FINOPS"))
ARGS = {"amount": 120, "customer": "cus_42", "notify": "ann@Example.com"}


def spec(args: dict[str, Any] = ARGS, uses: int = 3) -> GrantSpec:
    return GrantSpec(span="2h", max_uses=uses, bounds=propose_bounds(args))


def draft(ledger: Ledger, **over: Any) -> NewTicket:
    fields: dict[str, Any] = {
        "action": "issue_refund", "args": {**ARGS, "amount": 80},
        "requested_by": "U0REQUESTER", "reason": "again", "route": ROUTE,
        "policy_version": "2026-11-20", "policy_rule": "rules[2] issue_refund",
        "expires_at": ledger.db_now() + timedelta(hours=1)}
    fields.update(over)
    return NewTicket(**fields)


def granted(ledger: Ledger, make_ticket: TicketFactory, uses: int = 3) -> str:
    ticket = make_ticket(args=ARGS)
    ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE,
                           grant=spec(uses=uses))
    [grant] = GrantStore(ledger).for_ticket(ticket.id)
    return grant.id


def test_bounds_numbers_up_to_the_approved_value_domains_and_exact_values() -> None:
    bounds = propose_bounds({**ARGS, "flag": True, "tags": ["a"]})
    assert bounds["amount"] == Bound(max=120)
    assert bounds["notify"] == Bound(domain="example.com")
    assert outside_bounds(bounds, {**ARGS, "flag": True, "tags": ["a"]}) is None
    ok = {**ARGS, "amount": 0.5, "notify": "bob@EXAMPLE.com", "flag": True, "tags": ["a"]}
    assert outside_bounds(bounds, ok) is None
    for bad in ({"amount": 121}, {"amount": -5}, {"amount": True}, {"amount": "100"},
                {"customer": "cus_43"}, {"notify": "x@example.org"},
                {"notify": "x@mail.example.com"}, {"flag": 1}, {"tags": ["a", "b"]}):
        assert outside_bounds(bounds, {**ok, **bad}) is not None, bad
    assert "not part of the grant" in str(outside_bounds(bounds, {**ok, "extra": 1}))
    assert "missing" in str(outside_bounds(bounds, {k: v for k, v in ok.items()
                                                    if k != "customer"}))


def test_an_end_of_day_spec_without_until_ends_with_the_utc_day(ledger: Ledger) -> None:
    # A click written by a form from before time zones: that form said "(UTC)".
    now = ledger.db_now()
    end = grant_expiry(GrantSpec(span="eod", max_uses=1, bounds={}), now)
    assert end > now and end - now <= timedelta(days=1) and end.hour == end.minute == 0


def test_an_end_of_day_grant_ends_at_its_until_and_records_its_zone(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(args=ARGS)
    until = ledger.db_now() + timedelta(hours=7, minutes=3)
    eod = GrantSpec(span="eod", max_uses=2, bounds=propose_bounds(ARGS), until=until,
                    zone="America/Los_Angeles")
    ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE, grant=eod)
    [grant] = GrantStore(ledger).for_ticket(ticket.id)
    assert (grant.expires_at, grant.zone) == (until, "America/Los_Angeles")
    [made] = [e for e in ledger.audit_events(ticket_id=ticket.id) if e.kind == "grant_created"]
    assert made.data["zone"] == "America/Los_Angeles"


@pytest.mark.parametrize(("ahead", "why"), [(timedelta(minutes=-1), "had passed"),
                                             (timedelta(hours=27), "more than a day away")])
def test_an_end_of_day_that_passed_or_lies_too_far_ahead_records_nothing(
        ledger: Ledger, make_ticket: TicketFactory, ahead: timedelta, why: str) -> None:
    ticket = make_ticket(args=ARGS)
    eod = GrantSpec(span="eod", max_uses=2, bounds=propose_bounds(ARGS),
                    until=ledger.db_now() + ahead, zone="Asia/Tokyo")
    with pytest.raises(GrantNotAllowed, match=why):
        ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE,
                               grant=eod)
    assert ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    assert ledger.decisions(ticket.id) == [] and GrantStore(ledger).listed() == []


def test_only_an_end_of_day_spec_carries_until_and_zone() -> None:
    with pytest.raises(ValidationError, match="only an end-of-day grant"):
        GrantSpec(span="2h", max_uses=1, bounds={}, zone="UTC")
    with pytest.raises(ValidationError):  # a naive instant names no moment
        GrantSpec(span="eod", max_uses=1, bounds={}, until=datetime(2026, 11, 26, 23))


def test_a_grant_is_made_with_its_approval_and_audited(ledger: Ledger,
                                                       make_ticket: TicketFactory) -> None:
    grant = GrantStore(ledger).get(granted(ledger, make_ticket))
    assert (grant.action, grant.requested_by, grant.route, grant.granted_by) == (
        "issue_refund", "U0REQUESTER", "payments", "U0LEAD")
    assert (grant.uses, grant.max_uses) == (0, 3)
    assert timedelta(hours=2) - (grant.expires_at - grant.granted_at) < timedelta(seconds=1)
    kinds = [e.kind for e in ledger.audit_events(ticket_id=grant.ticket_id)]
    assert kinds == ["created", "decided", "grant_created"]


@pytest.mark.parametrize("over", [{"tier": RiskTier.CRITICAL}, {"approvals_required": 2}])
def test_no_grant_and_no_approval_for_critical_or_two_person_tickets(
        ledger: Ledger, make_ticket: TicketFactory, over: dict[str, Any]) -> None:
    ticket = make_ticket(args=ARGS, **over)
    with pytest.raises(GrantNotAllowed):
        ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE,
                               grant=spec())
    assert ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    assert ledger.decisions(ticket.id) == [] and GrantStore(ledger).listed() == []


def test_bounds_the_ticket_itself_breaks_are_refused(ledger: Ledger,
                                                     make_ticket: TicketFactory) -> None:
    ticket = make_ticket(args=ARGS)
    with pytest.raises(GrantNotAllowed):
        ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE,
                               grant=spec({**ARGS, "amount": 10}))
    assert ledger.get_ticket(ticket.id).status == TicketStatus.PENDING


def test_a_use_approves_a_new_ticket_in_the_granters_name_and_it_can_run(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    store = GrantStore(ledger)
    gid = granted(ledger, make_ticket)
    done = store.approve_by_grant(gid, draft(ledger))
    assert done is not None
    ticket, grant = done
    assert ticket.status == TicketStatus.APPROVED and ticket.approvals == ("U0LEAD",)
    assert grant.uses == 1
    [decision] = ledger.decisions(ticket.id)
    assert decision.reviewer == "U0LEAD" and decision.args_hash == ticket.final_args_hash
    assert decision.reason is not None and decision.reason.startswith(
        f"approved by standing grant {gid} (granted by U0LEAD at ") \
        and decision.reason.endswith(", 1 of 3)")
    # The approval is backed by its own audit events: the executor may run it, once.
    started = ledger.start_execution(ticket.id, action="issue_refund",
                                     args={**ARGS, "amount": 80}, actor="agent")
    assert started.status == TicketStatus.EXECUTING
    assert ledger.verify_audit().ok


@pytest.mark.parametrize("over", [
    {"args": {**ARGS, "amount": 500}}, {"requested_by": "U0OTHER"}, {"agent": "other-bot"},
    {"action": "issue_credit"}, {"requested_by": "U0LEAD"},
    {"route": ROUTE.model_copy(update={"name": "default"})},
    {"tier": RiskTier.CRITICAL},
])
def test_a_request_that_is_not_similar_uses_nothing(
        ledger: Ledger, make_ticket: TicketFactory, over: dict[str, Any]) -> None:
    store = GrantStore(ledger)
    gid = granted(ledger, make_ticket)
    assert store.approve_by_grant(gid, draft(ledger, **over)) is None
    assert store.get(gid).uses == 0


def test_used_up_expired_and_revoked_grants_approve_nothing(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    store = GrantStore(ledger)
    gid = granted(ledger, make_ticket, uses=1)
    assert store.approve_by_grant(gid, draft(ledger)) is not None
    assert store.approve_by_grant(gid, draft(ledger)) is None  # used up
    later = granted(ledger, make_ticket)
    with ledger.engine.begin() as conn:  # its time has passed, by the database's clock
        conn.execute(update(GrantRow).where(GrantRow.id == later).values(expires_at=db_now()))
    assert store.approve_by_grant(later, draft(ledger)) is None
    third = granted(ledger, make_ticket)
    assert store.revoke(third, actor="U0FINOPS").revoked_by == "U0FINOPS"
    assert store.approve_by_grant(third, draft(ledger)) is None
    assert [store.get(g).uses for g in (gid, later, third)] == [1, 0, 0]
    assert [g.state(ledger.db_now()) for g in store.listed()] == ["revoked", "expired",
                                                                  "used up"]
    assert store.candidates("issue_refund", "U0REQUESTER") == []


def test_racing_requests_never_use_a_grant_more_often_than_allowed(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    store = GrantStore(ledger)
    gid = granted(ledger, make_ticket, uses=3)
    drafts = [draft(ledger) for _ in range(12)]
    results: list[Any] = []
    start = threading.Barrier(len(drafts))

    def use(d: NewTicket) -> None:
        start.wait()
        results.append(store.approve_by_grant(gid, d))

    threads = [threading.Thread(target=use, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if r is not None]
    assert len(results) == 12 and len(won) == 3
    assert sorted(grant.uses for _, grant in won) == [1, 2, 3]
    assert store.get(gid).uses == 3
    with ledger.transactions(write=False) as s:
        approved = s.query(TicketRow).filter(TicketRow.status == "approved",
                                             TicketRow.agent.is_(None)).count()
    assert approved == 1 + 3  # the granted ticket and exactly three uses
