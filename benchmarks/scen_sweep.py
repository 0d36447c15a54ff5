"""4. Sweep scaling: one ``EscalationEngine.tick`` with a fixed number of due tickets among
a small and a large number of pending ones. The notifier records instead of calling Slack,
so the figure is the sweep's own cost: claims, step records, audit, releases."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from benchmarks.bulk import analyze, insert_pending, make_due, ticket_id
from benchmarks.env import PG_SKIP_NOTE, Bench
from benchmarks.report import Row, ScenarioResult, Summary
from escalation.config import SignoffConfig, load_config
from store.ledger import Ledger

NAME = "sweep_scaling"
TITLE = "Sweep scaling (one tick: N due among M pending)"
MAX_GROWTH = 1.3
PG_LIMIT_S = 1.0
OVERDUE = timedelta(minutes=31)  # the bench chain reminds every 30 minutes

Tick = Callable[[Ledger, SignoffConfig], int]


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    tick = _engine_tick()
    for backend in bench.backends():
        result.rows += _backend(bench, backend, tick)
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append("escalation.engine.EscalationEngine.tick with a recording notifier "
                        "(no Slack calls); tickets bulk-inserted; PostgreSQL ANALYZEd after "
                        "the load, SQLite left as signoff leaves it")
    return result


def _engine_tick() -> Tick:
    from escalation.engine import EscalationEngine
    from store.sweep import SweepStore
    from tests.escalation.recording_notifier import RecordingNotifier

    def tick(ledger: Ledger, config: SignoffConfig) -> int:
        engine = EscalationEngine(SweepStore(ledger), config, RecordingNotifier(),
                                  owner="bench-sweeper")
        report = engine.tick(at=ledger.db_now())
        return report.reminders

    return tick


def _backend(bench: Bench, backend: str, tick: Tick) -> list[Row]:
    size = bench.size
    config = load_config(bench.config_path)
    small, large = size.sweep_pending
    with bench.database(backend) as url:
        ledger = Ledger.open(url)
        try:
            insert_pending(ledger.engine, config, start=0, count=small,
                           created_at=ledger.db_now())
            analyze(ledger.engine)
            first = _measure(bench, ledger, config, tick, offset=0)
            insert_pending(ledger.engine, config, start=small, count=large - small,
                           created_at=ledger.db_now())
            analyze(ledger.engine)
            second = _measure(bench, ledger, config, tick, offset=size.sweep_repeats + 1)
        finally:
            ledger.close()
    due = size.sweep_due
    limit = f"; <{PG_LIMIT_S:g} s" if backend == "postgresql" else ""
    return [
        Row.of(f"{backend}, {due:,} due among {small:,}", "ms", first,
               target=f"<{PG_LIMIT_S:g} s" if limit else "", check=_under_limit(backend)),
        Row.of(f"{backend}, {due:,} due among {large:,}", "ms", second, baseline=first,
               target=f"≤{MAX_GROWTH:g}x the {small:,} case{limit}",
               check=_scales(backend)),
    ]


def _measure(bench: Bench, ledger: Ledger, config: SignoffConfig, tick: Tick, *,
             offset: int) -> Summary:
    """Time ``sweep_repeats`` ticks, each with a fresh batch of due tickets."""
    due = bench.size.sweep_due
    times = []
    for repeat in range(offset, offset + bench.size.sweep_repeats + 1):
        ids = [ticket_id(repeat * due + i) for i in range(due)]
        make_due(ledger.engine, config, ids, created_at=ledger.db_now() - OVERDUE)
        started = time.perf_counter()
        reminded = tick(ledger, config)
        if repeat > offset:  # the first tick warms caches up
            times.append((time.perf_counter() - started) * 1000)
        if reminded != due:
            raise RuntimeError(f"the tick reminded {reminded} tickets, expected {due}")
    return Summary.of(times)


def _under_limit(backend: str) -> Callable[[Summary, Summary | None], bool] | None:
    if backend != "postgresql":
        return None
    return lambda stats, _base: stats.median < PG_LIMIT_S * 1000


def _scales(backend: str) -> Callable[[Summary, Summary | None], bool]:
    def check(stats: Summary, base: Summary | None) -> bool:
        grows = base is None or stats.median <= MAX_GROWTH * base.median
        fast = backend != "postgresql" or stats.median < PG_LIMIT_S * 1000
        return grows and fast

    return check
