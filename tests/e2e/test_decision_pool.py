"""Decisions run with the concurrency the database allows, and the Slack refresh after a
decision does not hold a decision worker."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.render import ACTION_APPROVE
from bot.slack.refresher import Refresher
from bot.slack.reviews import decision_workers
from store.models import Ticket, TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import refund

SLOW_UPDATE_S = 12.0
DECIDED_WITHIN_S = 6.0


@pytest.mark.slow
def test_decisions_go_on_while_their_card_updates_wait_on_slack(rig: Rig) -> None:
    """Every decision worker's decision is followed by a ``chat.update`` Slack answers only
    after 12 s; one more click on another request is still decided long before that, and
    every card is brought up to date afterwards."""
    rig.service.acks.max_delay = 0.0
    workers = decision_workers(rig.ledger.engine.dialect.name)
    tickets = [refund(rig, amount=100 + i) for i in range(workers + 1)]
    rig.sandbox.inject_fault("chat.update", times=workers, delay=SLOW_UPDATE_S)
    for ticket in tickets:
        assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                                 message_ts=rig.card_ts(ticket.id)).ok
    deadline = time.monotonic() + DECIDED_WITHIN_S
    while time.monotonic() < deadline and not all(
            rig.ledger.get_ticket(t.id).status == TicketStatus.APPROVED for t in tickets):
        time.sleep(0.05)
    for ticket in tickets:  # without the refresher the last one waits for a worker (12 s)
        assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.APPROVED
    rig.sandbox.wait_until(lambda: len(rig.sandbox.calls("chat.update")) >= len(tickets),
                           timeout=SLOW_UPDATE_S * len(tickets) + 10)


def test_postgresql_decides_more_at_once_than_sqlite() -> None:
    assert decision_workers("sqlite") == 2
    assert decision_workers("postgresql") > decision_workers("sqlite")


def test_refreshes_of_one_ticket_run_in_order_and_the_newest_wins(rig: Rig) -> None:
    ticket = refund(rig)
    first_started, release = threading.Event(), threading.Event()
    shown: list[int] = []

    def refresh(t: Ticket) -> None:
        first_started.set()
        release.wait(10)
        shown.append(t.version)

    with ThreadPoolExecutor(4) as pool:
        refresher = Refresher(pool, refresh)
        refresher.submit(ticket.model_copy(update={"version": 1}))
        assert first_started.wait(5)
        for version in (3, 2, 4):  # queued while the first runs; 4 is the newest
            refresher.submit(ticket.model_copy(update={"version": version}))
        release.set()
    assert shown == [1, 4]
