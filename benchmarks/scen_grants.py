"""Grant lookup: what every reviewed request pays to learn whether a standing grant covers it
(``GrantStore.candidates``), against the cheapest read there is (one statement reading the
database's clock on a pooled connection), interleaved, with other grants in the table."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select

from benchmarks.env import PG_SKIP_NOTE, Bench
from benchmarks.report import Row, ScenarioResult, Summary
from store.db import db_now
from store.grant_store import GrantStore
from store.ledger import Ledger
from store.tables import GrantRow

NAME = "grant_lookup"
TITLE = "Grant lookup per reviewed request (vs one one-statement read)"
MAX_RATIO = 2.0
WARMUP = 20
SAMPLES = {"tiny": 100, "full": 2000}
OTHER_GRANTS = 200
GRANTS = cast(Table, GrantRow.__table__)


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    for backend in bench.backends():
        with bench.database(backend) as url:
            result.rows.append(_backend(bench, backend, url))
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append(f"{OTHER_GRANTS} active grants of other requesters in the table, none "
                        "covering the request looked up (the common case); samples "
                        "interleaved in one process")
    return result


def _backend(bench: Bench, backend: str, url: str) -> Row:
    ledger = Ledger.open(url)
    try:
        _seed(ledger)
        store = GrantStore(ledger)
        clock = select(db_now())

        def read() -> None:
            with ledger.engine.connect() as conn:
                conn.execute(clock).scalar_one()

        ours: list[float] = []
        base: list[float] = []
        samples = SAMPLES.get(bench.size.name, SAMPLES["tiny"])
        for i in range(WARMUP + samples):
            a = _timed(lambda: store.candidates("issue_refund", "U0REQUESTER"))
            b = _timed(read)
            if i >= WARMUP:
                ours.append(a)
                base.append(b)
    finally:
        ledger.close()

    def check(stats: Summary, baseline: Summary | None) -> bool:
        return baseline is not None and stats.median <= MAX_RATIO * baseline.median

    return Row.of(f"{backend}, vs one-statement read", "ms", Summary.of(ours),
                  baseline=Summary.of(base), target=f"≤{MAX_RATIO:g}x baseline", check=check)


def _seed(ledger: Ledger) -> None:
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [{
        "id": f"gbench{i:06d}", "ticket_id": f"tbench{i:06d}", "action": "issue_refund",
        "agent": None, "requested_by": f"U0OTHER{i:04d}", "route": "payments",
        "channel": None, "thread_ts": None, "bounds": {"amount": {"max": 100.0}},
        "max_uses": 10, "uses": 0, "granted_by": "U0LEAD", "granted_at": now,
        "expires_at": now + timedelta(hours=2), "revoked_by": None, "revoked_at": None,
        "policy_version": "bench"} for i in range(OTHER_GRANTS)]
    with ledger.engine.begin() as conn:
        conn.execute(insert(GRANTS), rows)


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000
