"""Audited writes for unrelated tickets from N threads: does one ticket's write wait on
another's audit append? Each thread opens tickets and approves them (two audited writes per
ticket, the request and the decision), each on its own ticket. Reported per thread count:
write latency and writes per second; and how long a committed event waits to be sealed into
the global chain (the sealer polls as ``signoff serve``'s scheduler does)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from benchmarks.env import ACTION, PG_SKIP_NOTE, REQUESTER, REVIEWER, Bench
from benchmarks.report import Row, ScenarioResult, Summary
from store.db import make_engine
from store.ledger import Ledger
from store.models import DecisionKind, NewTicket, Route

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
        "each on the thread's own ticket; the sealer runs in a background thread at the "
        "interval signoff serve uses")
    return result


def _backend(bench: Bench, backend: str, seconds: float) -> list[Row]:
    rows: list[Row] = []
    single: Summary | None = None
    with bench.database(backend) as url:
        ledger = Ledger(make_engine(url, pool_size=max(THREADS) + 4), check=True)
        try:
            for n in THREADS:
                latencies, rate = _run_threads(ledger, n, seconds)
                lags: list[float] = []
                lat = Summary.of(latencies)
                per_s = Summary.single(rate)
                rows.append(Row.of(f"{backend}, {n} threads: write latency", "ms", lat))
                rows.append(Row.of(
                    f"{backend}, {n} threads: writes/s", "/s", per_s, baseline=single,
                    target="" if single is None else "≥ the 1-thread rate",
                    check=None if single is None else _grows))
                if lags:
                    rows.append(Row.of(
                        f"{backend}, {n} threads: seal lag", "ms", Summary.of(lags),
                        target=f"p99 < {SEAL_LAG_LIMIT_MS:g} ms",
                        check=lambda s, _b: s.p99 < SEAL_LAG_LIMIT_MS))
                single = single or per_s
        finally:
            ledger.close()
    return rows


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
