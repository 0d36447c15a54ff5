"""Decisions yield to acks: post-ack work waits for the requests received before it."""

from __future__ import annotations

import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.render import ACTION_APPROVE
from bot.server.ackfirst import QUIET_GRACE, AckFirst, AckFirstExecutor
from bot.server.http import HttpServer
from store.models import TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import refund, settled


def test_a_job_waits_for_the_requests_in_flight() -> None:
    acks = AckFirst(max_delay=30.0)
    started = threading.Event()
    with ThreadPoolExecutor(1) as inner:
        pool = AckFirstExecutor(inner, acks)
        with acks.serving():  # the request whose handler submits the job
            other = acks.arrive()  # another request, still awaiting its ack
            future = pool.submit(started.set)
            assert not started.wait(0.2)
            assert acks.in_flight == 2
            acks.answered(other)
            assert not started.wait(0.2)  # its own request's answer goes out first too
        future.result(timeout=5)
    assert started.is_set() and acks.in_flight == 0


def test_requests_received_after_a_job_hold_it_back_briefly_only() -> None:
    """A steady stream of clicks: each decision waits for the acks ahead of it, and for the
    later ones no longer than the grace (far below the 30 s cap here)."""
    acks = AckFirst(max_delay=30.0)
    started = threading.Event()
    with ThreadPoolExecutor(1) as inner:
        pool = AckFirstExecutor(inner, acks)
        ahead = acks.arrive()  # queued for a thread before the job: the job yields to it
        future = pool.submit(started.set)
        later = acks.arrive()  # received after the job: the job does not wait for it
        assert not started.wait(0.2)
        acks.answered(ahead)
        future.result(timeout=5)
        assert acks.in_flight == 1
        acks.answered(later)
    assert acks.in_flight == 0


def test_requests_queued_for_a_thread_already_count() -> None:
    """A burst larger than the server's thread pool: the requests still queued for a thread
    are awaiting their acks too, and a job submitted now yields to them."""
    acks = AckFirst()
    release, entered = threading.Event(), threading.Semaphore(0)

    def app(environ: dict[str, Any], start: Any) -> list[bytes]:
        entered.release()
        release.wait(10)
        start("200 OK", [("Content-Length", "0")])
        return [b""]

    def get(url: str) -> None:
        urllib.request.urlopen(url, timeout=10).read()

    with HttpServer(app, port=0, threads=1, acks=acks) as server, \
            ThreadPoolExecutor(2) as clients:
        calls = [clients.submit(get, server.url) for _ in range(2)]
        assert entered.acquire(timeout=5)  # one in the handler, the other one queued
        deadline = time.monotonic() + 5
        while acks.in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert acks.in_flight == 2 and acks.horizon().before == 2
        release.set()
        for call in calls:
            call.result(timeout=10)
    assert acks.in_flight == 0


def test_when_quiet_a_job_starts_at_once() -> None:
    acks = AckFirst(max_delay=30.0)
    with ThreadPoolExecutor(1) as inner:
        assert AckFirstExecutor(inner, acks).submit(lambda: 42).result(timeout=5) == 42


def test_the_rig_runs_the_ack_first_front_door_that_serve_runs(rig: Rig) -> None:
    """The e2e rig is composed like ``signoff serve``: a decision waits while requests
    received before it still await their acks, and runs once they are answered."""
    acks = rig.service.acks
    acks.max_delay = 30.0
    ticket = refund(rig)
    # Two other requests received before the click, still awaiting their acks.
    others = [acks.arrive(), acks.arrive()]
    try:
        assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE,
                                 channel="C0PAYMENTS").ok
        time.sleep(0.3)
        assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    finally:
        for seq in others:
            acks.answered(seq)
    assert settled(rig, ticket.id).status == TicketStatus.APPROVED


def test_a_held_job_leaves_the_worker_free() -> None:
    """A decision waiting for acks ahead of it waits off the pool: the worker it would
    have slept on runs other work meanwhile, and the held job starts once they are sent."""
    acks = AckFirst(max_delay=30.0)
    started = threading.Event()
    with ThreadPoolExecutor(1) as inner:
        pool = AckFirstExecutor(inner, acks)
        ahead = acks.arrive()
        held = pool.submit(started.set)
        assert inner.submit(lambda: "free").result(timeout=2) == "free"
        assert not started.is_set()
        acks.answered(ahead)
        held.result(timeout=5)
        pool.shutdown()
    assert started.is_set()


def test_held_jobs_start_in_order_and_shutdown_runs_them() -> None:
    acks = AckFirst(max_delay=30.0)
    ran: list[int] = []
    inner = ThreadPoolExecutor(1)
    pool = AckFirstExecutor(inner, acks)
    acks.arrive()  # never answered: only the shutdown lets the jobs start
    futures = [pool.submit(ran.append, i) for i in range(5)]
    time.sleep(0.1)
    assert ran == []
    pool.shutdown(wait=True)  # a recorded click is never dropped on the way out
    assert all(f.done() for f in futures) and ran == [0, 1, 2, 3, 4]


def test_a_held_job_starts_after_max_delay() -> None:
    acks = AckFirst(max_delay=0.1)
    acks.arrive()  # stuck
    with ThreadPoolExecutor(1) as inner:
        pool = AckFirstExecutor(inner, acks)
        began = time.monotonic()
        assert pool.submit(lambda: 7).result(timeout=5) == 7
        assert time.monotonic() - began >= 0.09
        pool.shutdown()


def test_a_busy_door_holds_a_job_for_the_grace_only() -> None:
    """Clicks still arriving after a decision was submitted (the rest of a burst) are acked
    first, but a steady stream cannot hold the decision back beyond the grace."""
    acks = AckFirst(max_delay=30.0)
    started = threading.Event()
    with ThreadPoolExecutor(1) as inner:
        pool = AckFirstExecutor(inner, acks)
        began = time.monotonic()
        later = acks.arrive()  # received before the job is submitted, answered below
        future = pool.submit(started.set)
        stream = acks.arrive()  # received after it, never answered while we wait
        acks.answered(later)
        assert not started.wait(QUIET_GRACE / 2)  # the door is busy: it yields a while
        future.result(timeout=5)
        waited = time.monotonic() - began
        acks.answered(stream)
        pool.shutdown()
    assert QUIET_GRACE * 0.9 <= waited < 5


def test_a_quiet_door_starts_a_held_job_at_once() -> None:
    acks = AckFirst(max_delay=30.0)
    with ThreadPoolExecutor(1) as inner:
        pool = AckFirstExecutor(inner, acks)
        ahead = acks.arrive()
        future = pool.submit(time.monotonic)
        time.sleep(0.05)
        answered_at = time.monotonic()
        acks.answered(ahead)
        assert future.result(timeout=5) - answered_at < QUIET_GRACE / 2
        pool.shutdown()
