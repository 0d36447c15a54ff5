"""Decisions yield to acks: post-ack work waits while the front door serves requests."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bot.server.ackfirst import AckFirst, AckFirstExecutor


def test_a_job_waits_for_the_requests_in_flight() -> None:
    gate = AckFirst(max_delay=30.0)
    started = threading.Event()
    with ThreadPoolExecutor(1) as inner:
        pool = AckFirstExecutor(inner, gate)
        with gate.serving():  # the request whose handler submits the job
            with gate.serving():  # another request, still awaiting its ack
                future = pool.submit(started.set)
                assert not started.wait(0.2)
                assert gate.in_flight == 2
            future.result(timeout=5)  # its own request need not end first
    assert started.is_set() and gate.in_flight == 0


def test_a_steady_stream_of_requests_cannot_starve_a_job() -> None:
    gate = AckFirst(max_delay=0.1)
    with gate.serving():
        began = time.monotonic()
        waited = gate.wait_quiet()
    assert waited >= 0.1 and time.monotonic() - began < 5


def test_when_quiet_a_job_starts_at_once() -> None:
    gate = AckFirst(max_delay=30.0, settle=0.0)
    with ThreadPoolExecutor(1) as inner:
        assert AckFirstExecutor(inner, gate).submit(lambda: 42).result(timeout=5) == 42
