"""A standing grant made by a delegate: it carries the principal's authority, names the
delegation that lent it, and is used only while that delegation is active (checked in the
using transaction, by the database's clock); otherwise it matches nothing (fail closed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from store.db import db_now
from store.decisions import Capacity
from store.delegations import Delegation, DelegationStore
from store.errors import GrantNotAllowed
from store.grant_store import GrantStore
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus
from store.tables import DelegationRow, GrantRow, TicketRow
from tests.conftest import TicketFactory
from tests.store.test_grants import ARGS, draft, spec

LEAD, DEP = "U0LEAD", "U0DEP"


def lend(ledger: Ledger) -> Delegation:
    now = ledger.db_now()
    return DelegationStore(ledger).delegate(LEAD, DEP, at=now - timedelta(hours=1),
                                            until=now + timedelta(days=2), by="ops")


def delegates_grant(ledger: Ledger, make_ticket: TicketFactory) -> tuple[str, Delegation]:
    """The delegate approves on the lead's behalf and grants similar requests."""
    made = lend(ledger)
    ticket = make_ticket(args=ARGS)
    ledger.record_decision(ticket.id, reviewer=DEP, kind=DecisionKind.APPROVE, grant=spec(),
                           capacity=Capacity(on_behalf_of=LEAD, identities=frozenset({DEP, LEAD}),
                                             delegations=frozenset({made.id})))
    [grant] = GrantStore(ledger).for_ticket(ticket.id)
    return grant.id, made


def tickets(ledger: Ledger) -> int:
    with ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(TicketRow)).scalar_one())


def test_a_delegates_grant_names_the_principal_and_is_used_while_the_delegation_lasts(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    gid, made = delegates_grant(ledger, make_ticket)
    store = GrantStore(ledger)
    grant = store.get(gid)
    assert (grant.granted_by, grant.on_behalf_of, grant.delegation) == (DEP, LEAD, made.id)
    created = [e for e in ledger.audit_events() if e.kind == "grant_created"]
    assert created[-1].data["on_behalf_of"] == LEAD and created[-1].data["delegation"] == made.id
    done = store.approve_by_grant(gid, draft(ledger))
    assert done is not None
    ticket, used = done
    assert ticket.status == TicketStatus.APPROVED and used.uses == 1
    assert ticket.approvals == (DEP,) and ticket.acting_for == {DEP: LEAD}
    [decision] = ledger.decisions(ticket.id)
    assert (decision.reviewer, decision.on_behalf_of) == (DEP, LEAD)
    assert ledger.verify_audit().ok


def test_once_the_delegation_is_revoked_the_grant_matches_nothing(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    gid, made = delegates_grant(ledger, make_ticket)
    store = GrantStore(ledger)
    DelegationStore(ledger).revoke(made.id, at=ledger.db_now(), by=LEAD)
    before = tickets(ledger)
    assert store.approve_by_grant(gid, draft(ledger)) is None
    assert store.get(gid).uses == 0 and tickets(ledger) == before


def test_once_the_delegation_has_ended_the_grant_matches_nothing(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    gid, made = delegates_grant(ledger, make_ticket)
    with ledger.engine.begin() as conn:  # its period is over (by the database's clock)
        conn.execute(update(DelegationRow).where(DelegationRow.id == made.id)
                     .values(ends_at=db_now()))
    assert GrantStore(ledger).approve_by_grant(gid, draft(ledger)) is None
    assert GrantStore(ledger).get(gid).uses == 0


def test_a_grant_naming_half_a_delegation_never_matches(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    gid, _made = delegates_grant(ledger, make_ticket)
    with ledger.engine.begin() as conn:
        conn.execute(update(GrantRow).where(GrantRow.id == gid).values(delegation_id=None))
    assert GrantStore(ledger).approve_by_grant(gid, draft(ledger)) is None


def test_a_delegates_grant_never_approves_the_principals_own_request(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    gid, _made = delegates_grant(ledger, make_ticket)
    assert GrantStore(ledger).approve_by_grant(gid, draft(ledger, requested_by=LEAD)) is None


def test_a_fallback_approvers_authority_makes_no_grant_and_no_approval(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    away = lend(ledger)  # the lead is away; a fallback approver decides
    ticket = make_ticket(args=ARGS)
    with pytest.raises(GrantNotAllowed, match="fallback approver"):
        ledger.record_decision(ticket.id, reviewer="U0FALLBACK", kind=DecisionKind.APPROVE,
                               grant=spec(), capacity=Capacity(
                                   identities=frozenset({"U0FALLBACK"}),
                                   delegations=frozenset({away.id})))
    assert ledger.decisions(ticket.id) == []
    assert GrantStore(ledger).for_ticket(ticket.id) == []


def test_a_grant_clicked_as_the_delegation_is_revoked_records_neither(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    from store.errors import DelegationEnded

    made = lend(ledger)
    ticket = make_ticket(args=ARGS)
    capacity = Capacity(on_behalf_of=LEAD, identities=frozenset({DEP, LEAD}),
                        delegations=frozenset({made.id}))
    DelegationStore(ledger).revoke(made.id, at=ledger.db_now(), by=LEAD)
    with pytest.raises(DelegationEnded):
        ledger.record_decision(ticket.id, reviewer=DEP, kind=DecisionKind.APPROVE,
                               grant=spec(), capacity=capacity)
    assert ledger.decisions(ticket.id) == [] and GrantStore(ledger).for_ticket(ticket.id) == []
    assert [e.kind for e in ledger.audit_events(ticket_id=ticket.id)] == ["created"]


def test_a_lapsed_delegates_grant_is_no_longer_listed_as_in_force(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    gid, made = delegates_grant(ledger, make_ticket)
    store = GrantStore(ledger)
    mine = store.listed(granted_by=DEP)
    assert [g.id for g in store.in_force(mine, ledger.db_now())] == [gid]
    DelegationStore(ledger).revoke(made.id, at=ledger.db_now(), by=LEAD)
    assert store.in_force(mine, ledger.db_now()) == []
    assert store.get(gid).revoked_at is None, "showing lapsed grants changes nothing"
