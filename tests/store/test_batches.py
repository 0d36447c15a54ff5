"""Batches in the ledger: one open batch per key even when requests race, the window and the
size close it, and a batch decision is all of the listed tickets or none of them."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from store.batches import BatchStore, similarity_key
from store.errors import AlreadyDecided, ChangedSinceSeen, TransitionRefused
from store.ledger import Ledger
from store.models import DecisionKind, SlackRef, Ticket, TicketStatus
from tests.conftest import TicketFactory

CARD = SlackRef(role="card", channel="C0PAYMENTS", ts="1700000000.000100")


def join(store: BatchStore, ticket: Ticket, *, max_members: int = 50,
         window: timedelta = timedelta(minutes=2)) -> tuple[str, bool]:
    return store.join(ticket.id, similarity_key(ticket), max_members=max_members,
                      window=window, action=ticket.action)


def batch_of(ledger: Ledger, make_ticket: TicketFactory, n: int) -> tuple[str, list[Ticket]]:
    store = BatchStore(ledger)
    tickets = [make_ticket(args={"amount": 10 + i, "customer": f"cus_{i}"}) for i in range(n)]
    ids = {join(store, t)[0] for t in tickets}
    assert len(ids) == 1
    (batch_id,) = ids
    store.link_card(batch_id, CARD)
    return batch_id, tickets


def test_racing_requests_share_one_open_batch(ledger: Ledger,
                                              make_ticket: TicketFactory) -> None:
    store = BatchStore(ledger)
    tickets = [make_ticket(args={"amount": i, "customer": "cus_1"}) for i in range(1, 9)]
    barrier = threading.Barrier(len(tickets))
    found: list[tuple[str, bool]] = []

    def go(ticket: Ticket) -> None:
        barrier.wait()
        found.append(join(store, ticket))

    threads = [threading.Thread(target=go, args=(t,)) for t in tickets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({b for b, _ in found}) == 1
    assert sum(opened for _, opened in found) == 1


def test_the_size_and_the_window_close_a_batch(ledger: Ledger,
                                               make_ticket: TicketFactory) -> None:
    store = BatchStore(ledger)
    first, second, third = (make_ticket(args={"amount": i}) for i in (1, 2, 3))
    a, opened_a = join(store, first, max_members=2)
    b, opened_b = join(store, second, max_members=2)
    c, opened_c = join(store, third, max_members=2)
    assert (a == b != c) and (opened_a, opened_b, opened_c) == (True, False, True)
    late = make_ticket(args={"amount": 4})
    short = make_ticket(args={"amount": 5})
    d, _ = join(store, short, window=timedelta(milliseconds=200))
    time.sleep(0.3)
    e, opened_e = join(store, late, window=timedelta(milliseconds=200))
    assert d != e and opened_e


def test_approve_all_decides_exactly_the_listed_tickets(ledger: Ledger,
                                                        make_ticket: TicketFactory) -> None:
    store = BatchStore(ledger)
    batch_id, tickets = batch_of(ledger, make_ticket, 3)
    digest = store.record_view(store.get(batch_id))
    late = make_ticket(args={"amount": 99, "customer": "cus_late"})
    assert join(store, late)[0] == batch_id
    store.link_card(batch_id, CARD)
    done = store.decide_all(batch_id, digest, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    assert sorted(t.id for t, _ in done) == sorted(t.id for t in tickets)
    assert all(t.status == TicketStatus.APPROVED for t, _ in done)
    assert ledger.get_ticket(late.id).status == TicketStatus.PENDING
    events = [e for e in ledger.audit_events(ticket_id=tickets[0].id) if e.kind == "decided"]
    assert events[-1].data["batch"] == batch_id and events[-1].data["batch_list"] == digest
    with pytest.raises(AlreadyDecided):  # the same list again decides nothing more
        store.decide_all(batch_id, digest, reviewer="U0FINOPS", kind=DecisionKind.APPROVE)
    report = ledger.verify_audit()  # every ticket row matches its replayed events
    assert report.ok, str(report)
    started = ledger.start_execution(tickets[0].id, action="issue_refund",
                                     args=tickets[0].final_args, actor="agent")
    assert started.status == TicketStatus.EXECUTING  # the batch approval backs execution


def test_one_changed_ticket_refuses_the_whole_list(ledger: Ledger,
                                                   make_ticket: TicketFactory) -> None:
    store = BatchStore(ledger)
    batch_id, tickets = batch_of(ledger, make_ticket, 3)
    digest = store.record_view(store.get(batch_id))
    ledger.record_decision(tickets[1].id, reviewer="U0LEAD", kind=DecisionKind.EDIT,
                           args={"amount": 1, "customer": "cus_1"})
    with pytest.raises(TransitionRefused):
        store.decide_all(batch_id, digest, reviewer="U0FINOPS", kind=DecisionKind.REJECT,
                         reason="no")
    for t in (tickets[0], tickets[2]):
        assert ledger.get_ticket(t.id).status == TicketStatus.PENDING
        assert ledger.decisions(t.id) == []


def test_a_ticket_that_changed_but_is_pending_refuses_the_list(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    store = BatchStore(ledger)
    batch_id, tickets = batch_of(ledger, make_ticket, 2)
    digest = store.record_view(store.get(batch_id))
    ledger.record_decision(tickets[0].id, reviewer="U0LEAD", kind=DecisionKind.REQUEST_INFO,
                           reason="which order?")
    ledger.answer_info(tickets[0].id, actor="agent", text="order 7")
    with pytest.raises(ChangedSinceSeen):
        store.decide_all(batch_id, digest, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    assert ledger.decisions(tickets[1].id) == []
    fresh = store.record_view(store.get(batch_id))
    assert fresh != digest
    assert len(store.decide_all(batch_id, fresh, reviewer="U0LEAD",
                                kind=DecisionKind.APPROVE)) == 2


def test_an_unknown_list_decides_nothing(ledger: Ledger, make_ticket: TicketFactory) -> None:
    store = BatchStore(ledger)
    batch_id, tickets = batch_of(ledger, make_ticket, 2)
    with pytest.raises(TransitionRefused):
        store.decide_all(batch_id, "0" * 64, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    assert all(ledger.decisions(t.id) == [] for t in tickets)
