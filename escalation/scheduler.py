"""Run the sweep in each ``signoff serve`` replica: one APScheduler 3.x interval job.

The job store is in memory and private to the process (APScheduler's stores must not be
shared between processes). Nothing about deadlines lives in the scheduler: every replica's
job simply calls :meth:`EscalationEngine.tick` with the current time, and the ledger's
claims and step keys make the replicas' work add up to exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from escalation.engine import TickReport

log = logging.getLogger("signoff.escalation")
JOB_ID = "signoff-escalation-sweep"


class Sweep(Protocol):
    """What a tick runs: the escalation engine (and, with canaries, their draw)."""

    def tick(self, at: datetime) -> TickReport: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def start_scheduler(engine: Sweep, every: timedelta, *,
                    clock: Callable[[], datetime] = utc_now) -> BackgroundScheduler:
    """Start a background scheduler that ticks ``engine`` every ``every`` (first tick now).

    At most one tick runs at a time (``max_instances=1``); ticks missed while one ran long
    collapse into one (``coalesce``). Stop it with ``scheduler.shutdown()``.
    """
    if every <= timedelta(0):
        raise ValueError("the sweep interval must be positive")
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        timezone=UTC,
    )
    scheduler.add_job(
        sweep_once, "interval", seconds=every.total_seconds(), args=(engine, clock),
        id=JOB_ID, name="signoff escalation sweep", max_instances=1, coalesce=True,
        misfire_grace_time=None, next_run_time=clock(),
    )
    scheduler.start()
    return scheduler


def sweep_once(engine: Sweep, clock: Callable[[], datetime] = utc_now) -> None:
    """One tick, with the clock read once; errors are logged, never raised into the
    scheduler (the next interval tries again)."""
    try:
        report = engine.tick(at=clock())
    except Exception:
        log.exception("escalation sweep failed; retrying at the next interval")
        return
    if report.claimed:
        log.info("escalation sweep: %s", report)
