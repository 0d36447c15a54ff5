"""The embedded client's ``wait()`` is woken by the ticket's change, not by its polling timer:
its own clients here poll only every 30 s, so a prompt return can only be a wake-up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from bot.agent.client import ApprovalClient
from bot.render import ACTION_APPROVE
from store.ledger import Ledger
from store.models import TicketStatus
from tests.e2e.conftest import Rig

SLOW_POLL = 30.0


@contextmanager
def slow_client(rig: Rig, db_url: str) -> Iterator[ApprovalClient]:
    """A client on its own ledger (its own engine and connections), polling every 30 s."""
    client = ApprovalClient(Ledger.open(db_url), rig.config, slack=rig.slack,
                            poll_interval=SLOW_POLL, max_poll_interval=SLOW_POLL)
    try:
        yield client
    finally:
        client.close()


def _wait_for_click(rig: Rig, client: ApprovalClient) -> float:
    ticket = client.request("issue_refund", {"amount": 120, "customer": "cus_42"},
                            reason="double charge", requested_by="U0REQUESTER")
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client.wait, ticket.id, timeout=SLOW_POLL)
        time.sleep(0.2)  # the waiter has read the ticket once and sleeps
        assert not waiting.done()
        clicked = time.monotonic()
        assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE,
                                 channel="C0PAYMENTS").ok
        assert waiting.result(timeout=SLOW_POLL + 5).status == TicketStatus.APPROVED
        return time.monotonic() - clicked


def test_a_decision_made_in_this_process_wakes_the_wait(rig: Rig, db_url: str) -> None:
    with slow_client(rig, db_url) as client:
        assert _wait_for_click(rig, client) < SLOW_POLL / 3


def test_a_decision_made_by_another_process_wakes_the_wait_on_postgresql(
        rig: Rig, db_url: str) -> None:
    """Only PostgreSQL's NOTIFY reaches another process (SQLite's waits keep their timer)."""
    if not db_url.startswith("postgresql"):
        return
    with slow_client(rig, db_url) as client:
        wakeups = client.local.wakeups
        wakeups._stop_local()  # as if the bot were another process: only NOTIFY is left
        with wakeups.watching("warm-up"):
            deadline = time.monotonic() + 10
            while not wakeups.pushed and time.monotonic() < deadline:
                time.sleep(0.01)
        assert wakeups.pushed
        assert _wait_for_click(rig, client) < SLOW_POLL / 3


def test_closing_the_client_stops_listening(rig: Rig, db_url: str) -> None:
    with slow_client(rig, db_url) as client:
        wakeups = client.local.wakeups
        with wakeups.watching("anything"):
            pass
        thread = wakeups._thread
    if db_url.startswith("postgresql"):
        assert thread is not None and not thread.is_alive()
    else:
        assert thread is None  # SQLite: nothing to listen to
