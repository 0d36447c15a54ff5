"""Decisions yield to acks: post-ack work waits while the front door serves requests."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bot.render import ACTION_APPROVE
from bot.server.ackfirst import AckFirst, AckFirstExecutor
from store.models import TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import refund, settled


def test_a_job_waits_for_the_requests_in_flight() -> None:
    acks = AckFirst(max_delay=30.0)
    started = threading.Event()
    with ThreadPoolExecutor(1) as inner:
        pool = AckFirstExecutor(inner, acks)
        with acks.serving():  # the request whose handler submits the job
            with acks.serving():  # another request, still awaiting its ack
                future = pool.submit(started.set)
                assert not started.wait(0.2)
                assert acks.in_flight == 2
            future.result(timeout=5)  # its own request need not end first
    assert started.is_set() and acks.in_flight == 0


def test_a_steady_stream_of_requests_cannot_starve_a_job() -> None:
    acks = AckFirst(max_delay=0.1)
    with acks.serving():
        began = time.monotonic()
        waited = acks.wait_quiet()
    assert waited >= 0.1 and time.monotonic() - began < 5


def test_when_quiet_a_job_starts_at_once() -> None:
    acks = AckFirst(max_delay=30.0, settle=0.0)
    with ThreadPoolExecutor(1) as inner:
        assert AckFirstExecutor(inner, acks).submit(lambda: 42).result(timeout=5) == 42


def test_the_rig_runs_the_ack_first_front_door_that_serve_runs(rig: Rig) -> None:
    """The e2e rig is composed like ``signoff serve``: a decision waits while other requests
    are still awaiting their acks at the front door, and runs once the door is quiet."""
    acks = rig.service.acks
    acks.max_delay = 30.0
    ticket = refund(rig)
    # Two other requests still in flight (a job tolerates one: its own, finishing its ack).
    with acks.serving(), acks.serving():
        assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE,
                                 channel="C0PAYMENTS").ok
        time.sleep(0.3)
        assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    assert settled(rig, ticket.id).status == TicketStatus.APPROVED
