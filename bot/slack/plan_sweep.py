"""The sweep's part in plans: approved plans whose deadline passed with steps left end as
``expired`` (audited), and their cards say so. Starting a step checks the deadline too, so
nothing runs late even between ticks; the sweep makes it visible."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.render.thread import render_refusal
from bot.slack.surfaces import Surfaces
from escalation.sweep_store import SweepLedger
from store.errors import SignoffError, StoreError
from store.executions import EXECUTION_LEASE
from store.plans import PlanStore

log = logging.getLogger(__name__)
PLAN_LOST_NOTE = ("❔ A step of this plan never reported its outcome: it will not run again, "
                  "and the plan is halted. Check what happened.")
PLAN_EXPIRED_NOTE = "⏰ The plan's deadline passed: the steps that had not started will not run."


@dataclass
class PlanSweep:
    plans: PlanStore
    surfaces: Surfaces
    lease: timedelta = EXECUTION_LEASE
    """How long a started step has to report (the config's ``execution_lease``)."""

    def tick(self, at: datetime) -> list[str]:
        """Halt the plans whose started step never reported, end those due at ``at``; the
        ids of the plans changed now."""
        lost = self.plans.lose_steps(at=at, lease=self.lease)
        ended = self.plans.expire_due(at=at)
        for plan_id, note in [(p, PLAN_LOST_NOTE) for p in lost] + \
                [(p, PLAN_EXPIRED_NOTE) for p in ended]:
            try:
                ticket = self.plans.ticket(plan_id)
                self.surfaces.refresh(ticket)
                self.surfaces.reply(ticket, render_refusal(note))
            except SignoffError as exc:
                log.warning("plan %s not shown: %s", plan_id, exc)
        return lost + ended


@dataclass
class SweepWithPlans:
    """A sweep (the escalation engine, with canaries or not), then the plans' deadlines."""

    inner: Any
    plans: PlanSweep

    @property
    def store(self) -> SweepLedger:
        store: SweepLedger = self.inner.store
        return store

    def tick(self, at: datetime) -> Any:
        report = self.inner.tick(at)
        try:
            self.plans.tick(at)
        except StoreError:
            log.exception("plan deadlines not swept; retrying at the next tick")
        return report
