"""Audited writes for unrelated tickets from N threads: does one ticket's write wait on
another's audit append? Each thread opens tickets and approves them (two audited writes per
ticket, the request and the decision), each on its own ticket. Reported per thread count:
write latency and writes per second; and how long a committed event waits to be sealed into
the global chain (the sealer polls as ``signoff serve``'s scheduler does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import select

from benchmarks.env import ACTION, PG_SKIP_NOTE, REQUESTER, REVIEWER, Bench
from benchmarks.report import Row, ScenarioResult, Summary
from escalation.scheduler import SEAL_EVERY, seal_once
from store.db import make_engine
from store.ledger import Ledger
from store.models import DecisionKind, NewTicket, Route
from store.sweep import SweepStore
from store.tables import AuditRow

NAME = "audit_writes"
TITLE = "Audited writes for unrelated tickets (N threads) and seal lag"
THREADS = (1, 8, 16)
SEAL_LAG_LIMIT_MS = 1000.0
ROUTE = Route(name="default", channel="C0BENCH", approvers=(REVIEWER,))


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    seconds = 1.5 if bench.size.name == "tiny" else 8.0
    for backend in bench.backends():
        result.rows += _backend(bench, backend, seconds)
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append(
        f"each case runs {seconds:g} s; a write is Ledger.create_ticket or record_decision, "
        "each on the thread's own ticket; meanwhile two sealers (as in two replicas) run "
        f"the scheduler's seal job every {SEAL_EVERY.total_seconds():g} s; seal lag is from "
        "an event's clock reading (its transaction's start) to its seal, both by the "
        "database's clock")
    return result


def _backend(bench: Bench, backend: str, seconds: float) -> list[Row]:
    rows: list[Row] = []
    single: Summary | None = None
    with bench.database(backend) as url:
        ledger = Ledger(make_engine(url, pool_size=max(THREADS) + 4), check=True)
        try:
            for n in THREADS:
                since = ledger.db_now()
                with _sealers(ledger):
                    latencies, rate = _run_threads(ledger, n, seconds)
                    _drained(ledger)
                lags = _seal_lags(ledger, since)
                lat = Summary.of(latencies)
                per_s = Summary.single(rate)
                rows.append(Row.of(f"{backend}, {n} threads: write latency", "ms", lat))
                rows.append(Row.of(
                    f"{backend}, {n} threads: writes/s", "/s", per_s, baseline=single,
                    target="" if single is None else "≥ the 1-thread rate",
                    check=None if single is None else _grows))
                rows.append(Row.of(
                    f"{backend}, {n} threads: seal lag", "ms", Summary.of(lags),
                    target=f"p99 < {SEAL_LAG_LIMIT_MS:g} ms",
                    check=lambda s, _b: s.p99 < SEAL_LAG_LIMIT_MS))
                single = single or per_s
        finally:
            ledger.close()
    return rows


@contextmanager
def _sealers(ledger: Ledger, replicas: int = 2) -> Iterator[None]:
    """The scheduler's seal job of ``replicas`` replicas, for the duration of a case."""
    stop = threading.Event()
    threads = [threading.Thread(target=_seal_loop, args=(ledger, stop)) for _ in range(replicas)]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join()


def _seal_loop(ledger: Ledger, stop: threading.Event) -> None:
    store = SweepStore(ledger)
    while not stop.wait(SEAL_EVERY.total_seconds()):
        seal_once(store)


def _drained(ledger: Ledger, limit_s: float = 10.0) -> None:
    """Wait for the sealers to seal everything the case wrote."""
    give_up = time.monotonic() + limit_s
    while time.monotonic() < give_up:
        with ledger.engine.connect() as conn:
            if conn.execute(select(AuditRow.seq).where(AuditRow.seal.is_(None)).limit(1)
                            ).first() is None:
                return
        time.sleep(0.05)


def _seal_lags(ledger: Ledger, since: datetime) -> list[float]:
    """For each event written since ``since``: from its clock reading to its seal (ms)."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(AuditRow.at, AuditRow.sealed_at)
                            .where(AuditRow.at >= since)).all()
    missing = sum(1 for r in rows if r.sealed_at is None)
    if missing:
        raise RuntimeError(f"{missing} events were still not sealed after the case")
    return [(r.sealed_at - r.at).total_seconds() * 1000 for r in rows]


def _grows(stats: Summary, base: Summary | None) -> bool:
    return base is None or stats.median >= base.median


def _run_threads(ledger: Ledger, n: int, seconds: float) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    now = ledger.db_now()
    deadline = time.monotonic() + seconds
    start = threading.Barrier(n)

    def worker() -> None:
        mine: list[float] = []
        start.wait()
        while time.monotonic() < deadline:
            began = time.perf_counter()
            ticket, _ = ledger.create_ticket(NewTicket(
                action=ACTION, args={"amount": 10}, requested_by=REQUESTER, route=ROUTE,
                policy_version="bench-1", expires_at=now + timedelta(hours=1)))
            middle = time.perf_counter()
            ledger.record_decision(ticket.id, reviewer=REVIEWER, kind=DecisionKind.APPROVE)
            ended = time.perf_counter()
            mine += [(middle - began) * 1000, (ended - middle) * 1000]
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, len(latencies) / (time.monotonic() - began)
