"""The decision's transaction: its click ends with it or not at all, and its clock is read
once the ticket's row lock is held."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from store.errors import ClickSettled, ClickTooOld
from store.inbox import ClickStatus, NewClick
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus
from tests.conftest import TicketFactory


def _click(ledger: Ledger, ticket_id: str, version: int) -> int:
    new = NewClick(ticket_id=ticket_id, user="U0LEAD", kind=DecisionKind.APPROVE,
                   shown_version=version)
    return ledger.receive_click(new, owner="test").id


def test_a_click_older_than_its_max_age_decides_nothing(ledger: Ledger,
                                                        make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    click_id = _click(ledger, ticket.id, ticket.version)
    time.sleep(0.02)  # received before the decision's clock by more than the max age below
    with pytest.raises(ClickTooOld):
        ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE,
                               expected_version=ticket.version, click_id=click_id,
                               click_max_age=timedelta(0))
    assert ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    assert ledger.decisions(ticket.id) == []
    assert ledger.get_click(click_id).status == ClickStatus.PENDING


def test_a_click_that_ended_decides_nothing(ledger: Ledger, make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    click_id = _click(ledger, ticket.id, ticket.version)
    assert ledger.tell_click(click_id, "it did not count")
    with pytest.raises(ClickSettled):
        ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE,
                               expected_version=ticket.version, click_id=click_id)
    assert ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    assert ledger.decisions(ticket.id) == []


def test_a_decided_click_ends_with_its_decision(ledger: Ledger,
                                               make_ticket: TicketFactory) -> None:
    ticket = make_ticket()
    click_id = _click(ledger, ticket.id, ticket.version)
    after, decision = ledger.record_decision(
        ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE,
        expected_version=ticket.version, click_id=click_id)
    click = ledger.get_click(click_id)
    assert (click.status, after.status, after.version) == (
        ClickStatus.DECIDED, TicketStatus.APPROVED, ticket.version + 1)
    assert after == ledger.get_ticket(ticket.id)
    assert ledger.decisions(ticket.id) == [decision]
    assert after.decided_at == decision.at


@pytest.mark.postgres
def test_the_decision_clock_is_read_after_the_row_lock(ledger: Ledger,
                                                      make_ticket: TicketFactory) -> None:
    """A decision that waited for the row lock is dated after the wait, not before it (a
    SELECT … FOR UPDATE computes its own columns before it waits)."""
    if ledger.dialect != "postgresql":
        pytest.skip("row locks that make a writer wait: PostgreSQL")
    ticket = make_ticket()
    locked, released = threading.Event(), []

    def hold() -> None:
        with ledger.engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM tickets WHERE id = :id FOR UPDATE"),
                         {"id": ticket.id})
            locked.set()
            time.sleep(0.5)
            released.append(conn.execute(text("SELECT clock_timestamp()")).scalar_one())

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(5)
    _, decision = ledger.record_decision(ticket.id, reviewer="U0LEAD",
                                         kind=DecisionKind.APPROVE)
    holder.join()
    assert decision.at >= released[0]
