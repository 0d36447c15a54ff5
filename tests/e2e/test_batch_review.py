"""Batch review end to end: similar refunds on one card, "Approve all N" bound to the list the
reviewer saw, "Reject all" with one reason, an item rejected first, and the requests that are
never batched. Real signed clicks to the real bot, the sandbox as Slack, a real database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import ApprovalRejected
from bot.render import REASON_BLOCK
from bot.render.batch import (
    ACTION_BATCH_APPROVE,
    ACTION_BATCH_ITEM,
    ACTION_BATCH_REJECT,
    ACTION_BATCH_SHOW_ALL,
    item_value,
)
from escalation.config import parse_config
from store.batches import BATCH_ROLE, BatchStore
from store.ledger import Ledger
from store.models import DecisionKind, Ticket, TicketStatus
from store.tables import ClickRow
from tests.e2e.conftest import EXAMPLE, Gate, Rig, running_rig, workspace

BATCHED = EXAMPLE.read_text().replace(
    "      tier: high\n      route: payments\n",
    "      tier: high\n      route: payments\n      batch: {max: 50, window: 2m}\n")


@pytest.fixture
def rig(ledger: Ledger) -> Iterator[Rig]:
    assert "batch:" in BATCHED
    with running_rig(ledger, parse_config(BATCHED, "signoff.yml"), workspace()) as r:
        yield r


def refund(rig: Rig, amount: int, *, requested_by: str = "U0REQUESTER",
           confidence: float | None = None) -> Ticket:
    return rig.client.request("issue_refund", {"amount": amount, "customer": f"cus_{amount}"},
                              reason="customer was double charged", requested_by=requested_by,
                              confidence=confidence)


def cards_in(rig: Rig, channel: str) -> list[Any]:
    return [c for c in rig.sandbox.calls("chat.postMessage")
            if c.args.get("channel") == channel and not c.args.get("thread_ts") and c.ok]


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def card_text(rig: Rig, ticket: Ticket) -> str:
    card = rig.ledger.get_ticket(ticket.id).card
    assert card is not None
    msg = rig.sandbox.message(card.channel, card.ts)
    assert msg is not None
    return str(msg.blocks)


def test_similar_refunds_share_one_card(rig: Rig) -> None:
    first = refund(rig, 20)
    assert "Approve all 1" in card_text(rig, first)  # a batch of one is decidable at once
    tickets = [first, *(refund(rig, amount) for amount in (35, 80))]
    assert len(cards_in(rig, "C0PAYMENTS")) == 1
    cards = {rig.ledger.get_ticket(t.id).card for t in tickets}
    assert len(cards) == 1 and None not in cards
    for t in tickets:
        assert any(m.role == BATCH_ROLE for m in rig.ledger.get_ticket(t.id).messages)
    shown = card_text(rig, tickets[0])
    assert "Approve all 3" in shown and "min 20" in shown and "max 80" in shown


def test_approve_all_covers_exactly_the_listed_tickets(rig: Rig) -> None:
    listed = [refund(rig, amount) for amount in (20, 35, 80)]
    # A fourth similar request arrives after the card was rendered; the reviewer's screen
    # still shows three (Slack did not take the update).
    rig.sandbox.inject_fault("chat.update", error="internal_error")
    late = refund(rig, 55)
    assert rig.ledger.get_ticket(late.id).card == rig.ledger.get_ticket(listed[0].id).card
    assert "Approve all 3" in card_text(rig, listed[0])
    approved = rig.sandbox.click("U0PAYLEAD", action_id=ACTION_BATCH_APPROVE,
                                 channel="C0PAYMENTS")
    assert approved.ok
    wait_for(lambda: all(rig.ledger.get_ticket(t.id).status == TicketStatus.APPROVED
                         for t in listed))
    batch_id = BatchStore(rig.ledger).batch_of(listed[0].id)
    for t in listed:
        (decision,) = rig.ledger.decisions(t.id)
        assert (decision.kind, decision.reviewer) == (DecisionKind.APPROVE, "U0PAYLEAD")
        decided = [e for e in rig.ledger.audit_events(ticket_id=t.id) if e.kind == "decided"]
        assert decided[-1].data["batch"] == batch_id and decided[-1].data["batch_size"] == 3
    assert rig.ledger.get_ticket(late.id).status == TicketStatus.PENDING
    assert rig.ledger.decisions(late.id) == []
    # The click went through the inbox before its ack, and ended with the decisions.
    with rig.ledger.engine.connect() as conn:
        (click,) = conn.execute(select(ClickRow.ticket_id, ClickRow.status, ClickRow.decision_id)
                                ).all()
    assert (click.ticket_id, click.status) == (batch_id, "decided")
    assert click.decision_id in {rig.ledger.decisions(t.id)[0].id for t in listed}
    # The card now lists the one still waiting; each approval runs on its own, once.
    wait_for(lambda: "Approve all 1" in card_text(rig, late))
    assert rig.client.execute(listed[0].id, lambda **kw: kw["amount"],
                              action="issue_refund") == 20


def test_reject_all_needs_one_reason(rig: Rig) -> None:
    tickets = [refund(rig, amount) for amount in (15, 25)]
    assert rig.sandbox.click("U0FINOPS", action_id=ACTION_BATCH_REJECT).ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    blank = rig.sandbox.submit("U0FINOPS", {REASON_BLOCK: {"signoff_reason_value": "  "}})
    assert blank.response_action == "errors" and REASON_BLOCK in blank.errors
    assert all(rig.ledger.decisions(t.id) == [] for t in tickets)
    done = rig.sandbox.submit("U0FINOPS", {REASON_BLOCK: {"signoff_reason_value":
                                                          "duplicates of last week's"}})
    assert done.ok
    wait_for(lambda: all(rig.ledger.get_ticket(t.id).status == TicketStatus.REJECTED
                         for t in tickets))
    for t in tickets:
        (decision,) = rig.ledger.decisions(t.id)
        assert decision.kind == DecisionKind.REJECT
        assert decision.reason == "duplicates of last week's"
    with pytest.raises(ApprovalRejected) as info:
        rig.client.execute(tickets[0].id, lambda **kw: kw, action="issue_refund")
    assert info.value.reason == "duplicates of last week's"
    wait_for(lambda: "none is waiting here any more" in card_text(rig, tickets[0]))


def test_an_item_rejected_first_then_approve_all_covers_the_rest(rig: Rig) -> None:
    tickets = [refund(rig, amount) for amount in (10, 90, 30)]
    odd = tickets[1]
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_BATCH_SHOW_ALL).ok
    shown = rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))
    rig.sandbox.select("U0PAYLEAD", ACTION_BATCH_ITEM, item_value("reject", odd),
                       block_id="signoff_batch_all_1", view_id=shown[-1].id)
    rig.sandbox.wait_until(lambda: len(rig.sandbox.views("U0PAYLEAD")) > 1 or None)
    assert rig.sandbox.submit("U0PAYLEAD", {REASON_BLOCK: {"signoff_reason_value":
                                                           "already refunded"}}).ok
    wait_for(lambda: rig.ledger.get_ticket(odd.id).status == TicketStatus.REJECTED)
    wait_for(lambda: "Approve all 2" in card_text(rig, odd))
    rig.sandbox.close_view("U0PAYLEAD", clear=True)
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_BATCH_APPROVE,
                             channel="C0PAYMENTS").ok
    rest = [t for t in tickets if t is not odd]
    wait_for(lambda: all(rig.ledger.get_ticket(t.id).status == TicketStatus.APPROVED
                         for t in rest))
    assert [d.kind for d in rig.ledger.decisions(odd.id)] == [DecisionKind.REJECT]


def test_a_list_with_a_request_for_the_clicker_is_refused_whole(rig: Rig) -> None:
    tickets = [refund(rig, 20), refund(rig, 40, requested_by="U0PAYLEAD")]
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_BATCH_APPROVE).ok
    told = rig.sandbox.wait_until(lambda: [m.text for m in rig.sandbox.ephemerals("U0PAYLEAD")
                                           if "nothing was approved" in m.text])
    assert "1 of the 2" in told[0]
    assert all(rig.ledger.decisions(t.id) == [] for t in tickets)
    assert rig.sandbox.click("U0OUTSIDER", action_id=ACTION_BATCH_APPROVE,
                             channel="C0PAYMENTS").ok
    rig.sandbox.wait_until(lambda: [m for m in rig.sandbox.ephemerals("U0OUTSIDER")
                                    if "nothing was decided" in m.text])
    assert all(rig.ledger.get_ticket(t.id).status == TicketStatus.PENDING for t in tickets)


def test_a_delegate_decides_batch_members_one_at_a_time_not_all_at_once(rig: Rig) -> None:
    from datetime import UTC, datetime

    from store.delegations import DelegationStore

    start = datetime.now(UTC) - timedelta(hours=1)
    DelegationStore(rig.ledger).delegate("U0PAYLEAD", "U0OUTSIDER", at=start,
                                         until=start + timedelta(days=1), by="test")
    tickets = [refund(rig, 20), refund(rig, 40)]
    assert rig.sandbox.click("U0OUTSIDER", action_id=ACTION_BATCH_APPROVE,
                             channel="C0PAYMENTS").ok
    told = rig.sandbox.wait_until(lambda: [m.text for m in rig.sandbox.ephemerals("U0OUTSIDER")
                                           if "one request at a time" in m.text])
    assert "nothing was decided" in told[0]
    assert all(rig.ledger.decisions(t.id) == [] for t in tickets)
    assert all(rig.ledger.get_ticket(t.id).status == TicketStatus.PENDING for t in tickets)


def test_critical_two_person_and_escalation_requests_are_never_batched(rig: Rig) -> None:
    small = [refund(rig, 20), refund(rig, 30)]
    critical = refund(rig, 5000)          # critical tier, two approvals
    unsure = rig.client.request("update_crm", {"field": "plan"}, reason="unsure",
                                requested_by="U0REQUESTER", confidence=0.2)  # escalation
    assert critical.tier.value == "critical" and unsure.review_type.value == "escalation"
    batch_card = rig.ledger.get_ticket(small[0].id).card
    for alone in (critical, unsure):
        ticket = rig.ledger.get_ticket(alone.id)
        assert ticket.card is not None and ticket.card != batch_card
        assert not any(m.role == BATCH_ROLE for m in ticket.messages)
        assert BatchStore(rig.ledger).batch_of(alone.id) is None
    assert "Approve all 2" in card_text(rig, small[0])


def _deadline_now(rig: Rig, ticket: Ticket) -> None:
    from sqlalchemy import update

    from store.db import db_now
    from store.tables import TicketRow

    with rig.ledger.engine.begin() as conn:  # its deadline has passed (the database's clock)
        conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                     .values(expires_at=db_now(), next_action_at=db_now()))


def test_members_expire_on_their_own_and_a_stale_list_decides_nothing(rig: Rig) -> None:
    first, second, third = (refund(rig, amount) for amount in (20, 30, 40))
    # The deadline of one listed request passes before anyone sweeps: Approve all on the
    # card showing it decides nothing, expires it, and refreshes the card.
    _deadline_now(rig, first)
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_BATCH_APPROVE).ok
    told = rig.sandbox.wait_until(lambda: [m.text for m in rig.sandbox.ephemerals("U0PAYLEAD")
                                           if "Nothing was decided" in m.text])
    assert first.id in told[0]
    assert rig.ledger.get_ticket(first.id).status == TicketStatus.EXPIRED
    for t in (second, third):
        assert rig.ledger.decisions(t.id) == []
    wait_for(lambda: "Approve all 2" in card_text(rig, second))
    # Another expires through the sweep: the card lists the one left and says so.
    _deadline_now(rig, second)
    rig.service.engine().tick(at=second.created_at + timedelta(hours=2))
    assert rig.ledger.get_ticket(second.id).status == TicketStatus.EXPIRED
    wait_for(lambda: "Approve all 1" in card_text(rig, third))
    assert "2 expired" in card_text(rig, third)
    assert rig.ledger.get_ticket(third.id).status == TicketStatus.PENDING


def test_an_item_edited_first_leaves_the_list_and_a_stricter_one_gets_its_own_card(
        rig: Rig) -> None:
    tickets = [refund(rig, amount) for amount in (10, 20, 30)]
    batch_card = rig.ledger.get_ticket(tickets[0].id).card
    # Edited in place: an edit approves it with the new arguments; the card lists the rest.
    rig.sandbox.select("U0PAYLEAD", ACTION_BATCH_ITEM, item_value("edit", tickets[0]),
                       block_id="signoff_batch_item_0", channel="C0PAYMENTS")
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))
    assert rig.sandbox.submit("U0PAYLEAD", {"arg:amount": {"signoff_edit_value": "12"}}).ok
    wait_for(lambda: rig.ledger.get_ticket(tickets[0].id).status == TicketStatus.APPROVED)
    assert rig.ledger.get_ticket(tickets[0].id).final_args["amount"] == 12
    wait_for(lambda: "Approve all 2" in card_text(rig, tickets[1]))
    # Edited to an amount that needs two approvers: off the batch, onto a card of its own.
    big = tickets[1]
    rig.sandbox.select("U0FINOPS", ACTION_BATCH_ITEM, item_value("edit", big),
                       block_id="signoff_batch_item_0", channel="C0PAYMENTS")
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    assert rig.sandbox.submit("U0FINOPS", {"arg:amount": {"signoff_edit_value": "5000"}}).ok
    moved = wait_for(lambda: (t := rig.ledger.get_ticket(big.id)).card != batch_card and t)
    assert moved.status == TicketStatus.PENDING and moved.tier.value == "critical"
    assert moved.card is not None and moved.card.channel == "C0PAYMENTS"
    wait_for(lambda: "Approve all 1" in card_text(rig, tickets[2]))
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_BATCH_APPROVE, channel="C0PAYMENTS",
                             message_ts=batch_card.ts if batch_card else None).ok
    wait_for(lambda: rig.ledger.get_ticket(tickets[2].id).status == TicketStatus.APPROVED)
    assert rig.ledger.get_ticket(big.id).status == TicketStatus.PENDING


def test_requests_through_the_agent_gateway_are_batched_too(rig: Rig, gate: Gate) -> None:
    http = gate.client()
    try:
        tickets = [http.request("issue_refund", {"amount": amount, "customer": "cus_7"},
                                reason="late delivery", requested_by="U0REQUESTER")
                   for amount in (11, 12)]
    finally:
        http.close()
    cards = {rig.ledger.get_ticket(t.id).card for t in tickets}
    assert len(cards) == 1 and None not in cards
    assert len(cards_in(rig, "C0PAYMENTS")) == 1
    assert "Approve all 2" in card_text(rig, tickets[0])
