"""A delegate's decision is checked again under the ticket's row lock: the delegation it relies
on must still be active by the database's clock when it is recorded, or nothing is recorded.

Each test builds the capacity the bot would have built at click time, then changes the
delegation (revokes it, lets it end, makes a new one) before ``record_decision`` runs: the
window between the bot's check and the ledger's write.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.decisions import Capacity
from store.delegations import Delegation, DelegationStore
from store.errors import DelegationEnded, DuplicateApproval
from store.ledger import Ledger
from store.models import DecisionKind, Ticket, TicketStatus
from tests.conftest import TicketFactory

LEAD, DEP, FINOPS = "U0LEAD", "U0DEP", "U0FINOPS"


def lend(ledger: Ledger, principal: str = LEAD, delegate: str = DEP, *,
         ends_in: timedelta = timedelta(days=3)) -> Delegation:
    """``principal`` delegates to ``delegate``, from a day ago (the database's clock)."""
    start = ledger.db_now() - timedelta(days=1)
    return DelegationStore(ledger).delegate(principal, delegate, at=start,
                                            until=ledger.db_now() + ends_in, by="ops")


def for_lead(made: Delegation) -> Capacity:
    """What the bot builds for the delegate's click while ``made`` is active."""
    return Capacity(on_behalf_of=made.principal, identities=frozenset({DEP, LEAD}),
                    delegations=frozenset({made.id}))


def assert_nothing_recorded(ledger: Ledger, before: Ticket) -> None:
    """``before`` (a fresh ticket) is as it was: no decision, no audit event but its creation."""
    after = ledger.get_ticket(before.id)
    assert (after.status, after.version, after.approvals) == (
        before.status, before.version, before.approvals)
    assert ledger.decisions(before.id) == []
    assert [e.kind for e in ledger.audit_events(ticket_id=before.id)] == ["created"]


def test_a_delegation_revoked_after_the_click_records_nothing(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    made = lend(ledger)
    ticket = make_ticket()
    capacity = for_lead(made)  # the click was authorised here
    DelegationStore(ledger).revoke(made.id, at=ledger.db_now(), by=LEAD)
    with pytest.raises(DelegationEnded, match=f"delegation {made.id} it relied on") as exc:
        ledger.record_decision(ticket.id, reviewer=DEP, kind=DecisionKind.APPROVE,
                               capacity=capacity)
    assert exc.value.delegation == made.id
    assert ledger.decisions(ticket.id) == []
    assert [e.kind for e in ledger.audit_events(ticket_id=ticket.id)] == ["created"]
    assert ledger.get_ticket(ticket.id).version == ticket.version
    assert ledger.verify_audit().ok


@pytest.mark.parametrize("kind", [DecisionKind.REJECT, DecisionKind.REQUEST_INFO,
                                  DecisionKind.TAKE_OVER])
def test_every_kind_of_decision_is_refused_once_the_delegation_is_revoked(
        ledger: Ledger, make_ticket: TicketFactory, kind: DecisionKind) -> None:
    made = lend(ledger)
    ticket = make_ticket()
    capacity = for_lead(made)
    DelegationStore(ledger).revoke(made.id, at=ledger.db_now(), by="ops")
    with pytest.raises(DelegationEnded):
        ledger.record_decision(ticket.id, reviewer=DEP, kind=kind, reason="why",
                               capacity=capacity)
    assert_nothing_recorded(ledger, ticket)


def test_a_delegation_that_ran_out_after_the_click_records_nothing(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    # Its end lies before the database's clock at the write: it ran out in the window.
    made = lend(ledger, ends_in=-timedelta(seconds=1))
    ticket = make_ticket()
    with pytest.raises(DelegationEnded):
        ledger.record_decision(ticket.id, reviewer=DEP, kind=DecisionKind.APPROVE,
                               capacity=for_lead(made))
    assert ledger.decisions(ticket.id) == []


def test_acting_on_behalf_without_a_live_delegation_from_that_principal_is_refused(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    unnamed = Capacity(on_behalf_of=LEAD, identities=frozenset({DEP, LEAD}))
    with pytest.raises(DelegationEnded, match="without naming the delegation"):
        ledger.record_decision(ticket.id, reviewer=DEP, kind=DecisionKind.APPROVE,
                               capacity=unnamed)
    other = lend(ledger, FINOPS, DEP)  # active, but lends FINOPS's authority, not LEAD's
    wrong = Capacity(on_behalf_of=LEAD, identities=frozenset({DEP, LEAD}),
                     delegations=frozenset({other.id}))
    with pytest.raises(DelegationEnded):
        ledger.record_decision(ticket.id, reviewer=DEP, kind=DecisionKind.APPROVE,
                               capacity=wrong)
    assert_nothing_recorded(ledger, ticket)


def test_a_fallback_decision_is_refused_once_an_approver_is_back(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    away = lend(ledger, LEAD, "U0SUB")
    ticket = make_ticket()
    # A fallback approver decides because the lead is away through this delegation.
    capacity = Capacity(identities=frozenset({"U0FALLBACK"}), delegations=frozenset({away.id}))
    DelegationStore(ledger).revoke(away.id, at=ledger.db_now(), by=LEAD)
    with pytest.raises(DelegationEnded):
        ledger.record_decision(ticket.id, reviewer="U0FALLBACK", kind=DecisionKind.APPROVE,
                               capacity=capacity)
    assert_nothing_recorded(ledger, ticket)


def test_a_delegation_made_after_the_click_still_makes_two_people_one(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket(approvals_required=2)
    ledger.record_decision(ticket.id, reviewer=LEAD, kind=DecisionKind.APPROVE)
    before = ledger.get_ticket(ticket.id)
    mine = Capacity(identities=frozenset({DEP}))  # at click time nothing linked them
    lend(ledger)  # the lead delegates to the second approver before the write
    with pytest.raises(DuplicateApproval, match=f"{DEP} is one person with {LEAD}"):
        ledger.record_decision(ticket.id, reviewer=DEP, kind=DecisionKind.APPROVE,
                               capacity=mine)
    assert ledger.get_ticket(ticket.id).approvals == before.approvals
    assert len(ledger.decisions(ticket.id)) == 1


def test_a_live_delegation_records_the_decision_and_names_it(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    made = lend(ledger)
    ticket = make_ticket()
    after, decision = ledger.record_decision(ticket.id, reviewer=DEP,
                                             kind=DecisionKind.APPROVE,
                                             capacity=for_lead(made))
    assert after.status == TicketStatus.APPROVED and decision.on_behalf_of == LEAD
    decided = [e for e in ledger.audit_events(ticket_id=ticket.id) if e.kind == "decided"]
    assert decided[-1].data["delegations"] == [made.id]
    assert ledger.verify_audit().ok


def test_a_revocation_is_dated_by_the_database_clock_after_every_decision_on_it(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    made = lend(ledger)
    ticket = make_ticket()
    _after, decision = ledger.record_decision(ticket.id, reviewer=DEP,
                                              kind=DecisionKind.APPROVE,
                                              capacity=for_lead(made))
    # The revoking process's clock runs an hour behind: the record still follows the decision.
    ended = DelegationStore(ledger).revoke(made.id, at=decision.at - timedelta(hours=1), by=LEAD)
    assert ended.revoked_at is not None and ended.revoked_at >= decision.at


@pytest.mark.postgres
def test_a_decision_waits_for_a_revocation_in_progress_and_then_refuses(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    """The relied-on delegation is read FOR SHARE: a revocation that holds its row (not yet
    committed) makes the decision wait, and the decision then sees it revoked. A plain read
    would see the row as before the revocation and record the decision."""
    import threading
    import time

    from sqlalchemy import text

    if ledger.dialect != "postgresql":
        pytest.skip("row locks that make a reader wait: PostgreSQL")
    made = lend(ledger)
    ticket = make_ticket()
    capacity = for_lead(made)
    locked = threading.Event()

    def revoke_slowly() -> None:
        with ledger.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM delegations WHERE id = :id FOR UPDATE"),
                         {"id": made.id})
            conn.execute(text("UPDATE delegations SET revoked_at = now(), revoked_by = 'U0LEAD' "
                              "WHERE id = :id"), {"id": made.id})
            locked.set()
            time.sleep(0.5)  # the decision arrives meanwhile

    revoker = threading.Thread(target=revoke_slowly)
    revoker.start()
    assert locked.wait(5)
    with pytest.raises(DelegationEnded):
        ledger.record_decision(ticket.id, reviewer=DEP, kind=DecisionKind.APPROVE,
                               capacity=capacity)
    revoker.join()
    assert_nothing_recorded(ledger, ticket)
