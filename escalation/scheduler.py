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
from escalation.sweep_store import SweepLedger

log = logging.getLogger("signoff.escalation")
JOB_ID = "signoff-escalation-sweep"
SEAL_JOB_ID = "signoff-audit-sealer"
#: How often each replica seals committed audit events into the global chain: an event is
#: sealed within about this long after its commit (docs/audit.md, seal lag).
SEAL_EVERY = timedelta(milliseconds=250)
#: On SQLite every write seals its own events (one writer at a time), so the sealer only
#: looks, rarely, for events some other path left unsealed.
SEAL_EVERY_SQLITE = timedelta(seconds=5)


class Sweep(Protocol):
    """What a tick runs: the escalation engine (and, with canaries, their draw), and the
    store the audit sealer works on."""

    @property
    def store(self) -> SweepLedger: ...
    def tick(self, at: datetime) -> TickReport: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def start_scheduler(engine: Sweep, every: timedelta, *,
                    clock: Callable[[], datetime] = utc_now,
                    seal_every: timedelta = SEAL_EVERY) -> BackgroundScheduler:
    """Start a background scheduler that ticks ``engine`` every ``every`` (first tick now),
    and seals the audit trail every ``seal_every`` on its own thread (a long tick never
    delays sealing).

    At most one tick runs at a time (``max_instances=1``); ticks missed while one ran long
    collapse into one (``coalesce``). Stop it with ``scheduler.shutdown()``.
    """
    if every <= timedelta(0):
        raise ValueError("the sweep interval must be positive")
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=1),
                   "sealer": ThreadPoolExecutor(max_workers=1)},
        timezone=UTC,
    )
    scheduler.add_job(
        sweep_once, "interval", seconds=every.total_seconds(), args=(engine, clock),
        id=JOB_ID, name="signoff escalation sweep", max_instances=1, coalesce=True,
        misfire_grace_time=None, next_run_time=clock(),
    )
    scheduler.add_job(
        seal_once, "interval", seconds=seal_every.total_seconds(), args=(engine.store,),
        id=SEAL_JOB_ID, name="signoff audit sealer", executor="sealer", max_instances=1,
        coalesce=True, misfire_grace_time=None,
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


def seal_once(store: SweepLedger) -> None:
    """Seal what has committed; errors are logged (the next interval tries again)."""
    try:
        store.seal_audit()
    except Exception:
        log.exception("audit sealer failed; retrying at the next interval")
