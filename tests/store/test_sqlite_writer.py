"""SQLite writers of one process take turns on one lock per database file (handed over at
once on commit) instead of sleeping in SQLite's busy handler; other databases take writers
in parallel and get no such lock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from store.db import URGENT, make_engine, sqlite_writer, writer_turn
from store.inbox import NewClick
from store.ledger import Ledger
from store.models import DecisionKind


def _click(i: int) -> NewClick:
    return NewClick(ticket_id=f"t{i}", user=f"U{i:04d}", kind=DecisionKind.APPROVE,
                    channel="C0PAYMENTS", response_url=f"https://hooks.example/{i}")


def test_every_engine_on_one_file_shares_its_turn(ledger: Ledger, db_url: str) -> None:
    other = make_engine(db_url)
    try:
        if ledger.dialect != "sqlite":
            assert sqlite_writer(ledger.engine) is None
            return
        turn = sqlite_writer(ledger.engine)
        assert turn is not None and sqlite_writer(other) is turn
        assert ledger.transactions._writer is turn and ledger._quick_writer is turn
    finally:
        other.dispose()


def test_a_click_write_waits_its_turn_and_goes_in_after_the_commit(ledger: Ledger) -> None:
    if ledger.dialect != "sqlite":
        pytest.skip("SQLite's one writer")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with ledger.transactions():
            holding.set()
            release.wait(10)

    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(hold)
        assert holding.wait(5)
        turn = sqlite_writer(ledger.engine)
        assert turn is not None and not turn.acquire(blocking=False)  # the holder has it
        written = pool.submit(ledger.receive_clicks, [_click(1)], owner="r1")
        assert not written.done()
        release.set()
        held.result(timeout=10)
        assert [c.user for c in written.result(timeout=10)] == ["U0001"]


def test_a_click_and_a_decision_go_before_writers_waiting_longer(ledger: Ledger) -> None:
    """A reviewer's click (before its ack) and decision are waited on by a person and an
    agent; a request's write queued earlier goes after them."""
    if ledger.dialect != "sqlite":
        pytest.skip("SQLite's one writer")
    turn = sqlite_writer(ledger.engine)
    assert turn is not None
    order: list[str] = []

    def plain() -> None:
        with ledger.transactions():
            order.append("plain")

    def click() -> None:
        ledger.receive_clicks([_click(1)], owner="r1")
        order.append("click")

    def until(waiting: int) -> None:
        for _ in range(500):
            if turn.waiting == waiting:
                return
            threading.Event().wait(0.01)
        raise AssertionError(f"{turn.waiting} waiting, expected {waiting}")

    def decision() -> None:
        with ledger.transactions(urgent=True):
            order.append("decision")

    with ThreadPoolExecutor(3) as pool:
        with writer_turn(turn, 5):
            later = [pool.submit(plain)]
            until(1)
            later.append(pool.submit(decision))
            until(2)
            later.append(pool.submit(click))
            until(3)
        for future in later:
            future.result(timeout=10)
    assert order == ["click", "decision", "plain"]


def test_a_waiting_writer_gives_up_after_its_timeout(ledger: Ledger) -> None:
    if ledger.dialect != "sqlite":
        pytest.skip("SQLite's one writer")
    turn = sqlite_writer(ledger.engine)
    assert turn is not None
    with writer_turn(turn, 5), ThreadPoolExecutor(1) as pool:
        assert pool.submit(turn.acquire, timeout=0.05).result(timeout=5) is False
        assert pool.submit(turn.acquire, timeout=0.05, priority=URGENT).result(timeout=5) is False
    assert turn.waiting == 0
