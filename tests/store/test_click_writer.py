"""Group commit of the click inbox: clicks arriving together share transactions, and each
handler gets back its own row (or the failure that stopped it)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.slack.click_writer import ClickWriter
from store.errors import StoreUnavailable
from store.inbox import Click, ClickStatus, NewClick
from store.ledger import Ledger
from store.models import DecisionKind


def _new(i: int) -> NewClick:
    return NewClick(ticket_id=f"t{i}", user=f"U{i:04d}", kind=DecisionKind.APPROVE,
                    channel="C0PAYMENTS", response_url=f"https://hooks.example/{i}")


@pytest.mark.parametrize("writers", [1, 3])
def test_a_burst_shares_transactions_and_each_click_gets_its_own_row(
        ledger: Ledger, writers: int) -> None:
    batches: list[int] = []

    def write(new: Sequence[NewClick]) -> list[Click]:
        batches.append(len(new))
        return ledger.receive_clicks(new, owner="r1")

    writer = ClickWriter(write, writers=writers)
    try:
        with ThreadPoolExecutor(40) as pool:
            got = list(pool.map(lambda i: writer.write(_new(i), timeout=30), range(120)))
    finally:
        writer.close()
    assert [c.user for c in got] == [f"U{i:04d}" for i in range(120)]
    assert [c.ticket_id for c in got] == [f"t{i}" for i in range(120)]
    stored = {c.id: c for c in ledger.clicks(ClickStatus.PENDING)}
    assert len(stored) == 120 and all(stored[c.id].user == c.user for c in got)
    assert sum(batches) == 120 and len(batches) < 120  # some clicks shared a commit


def test_a_failed_write_reaches_every_waiting_click(ledger: Ledger) -> None:
    def write(new: Sequence[NewClick]) -> list[Click]:
        raise StoreUnavailable("database error: disk I/O error")

    writer = ClickWriter(write)
    try:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(writer.write, _new(i), timeout=30) for i in range(8)]
            for future in futures:
                with pytest.raises(StoreUnavailable):
                    future.result()
    finally:
        writer.close()
    assert ledger.clicks() == []


def test_a_click_no_writer_took_in_time_is_not_written(ledger: Ledger) -> None:
    """Behind a stuck write, a waiting click gives up *before* it is written, so telling
    its clicker "it did not count" is true (the stuck write is bounded by the database)."""
    import threading

    release = threading.Event()

    def write(new: Sequence[NewClick]) -> list[Click]:
        release.wait(10)
        return ledger.receive_clicks(new, owner="r1")

    writer = ClickWriter(write)
    with ThreadPoolExecutor(2) as pool:
        stuck = pool.submit(writer.write, _new(1), timeout=0.3)
        while not writer._active:
            time.sleep(0.001)
        waiting = pool.submit(writer.write, _new(2), timeout=0.3)
        with pytest.raises(StoreUnavailable):
            waiting.result()
        release.set()
        assert stuck.result().user == "U0001"
    assert [c.user for c in ledger.clicks()] == ["U0001"]
