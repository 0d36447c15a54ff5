"""The sweep's part in plans: approved plans whose deadline passed with steps left end as
``expired`` (audited), and their cards say so. Starting a step checks the deadline too, so
nothing runs late even between ticks; the sweep makes it visible."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.render.thread import render_refusal
from bot.slack.surfaces import Surfaces
from escalation.sweep_store import SweepLedger
from store.errors import SignoffError, StoreError
from store.plans import PlanStore

log = logging.getLogger(__name__)
PLAN_EXPIRED_NOTE = "⏰ The plan's deadline passed: the steps that had not started will not run."


@dataclass
class PlanSweep:
    plans: PlanStore
    surfaces: Surfaces

    def tick(self, at: datetime) -> list[str]:
        """End the plans due at ``at``; the ids ended now."""
        ended = self.plans.expire_due(at=at)
        for plan_id in ended:
            try:
                ticket = self.plans.ticket(plan_id)
                self.surfaces.refresh(ticket)
                self.surfaces.reply(ticket, render_refusal(PLAN_EXPIRED_NOTE))
            except SignoffError as exc:
                log.warning("expired plan %s not shown: %s", plan_id, exc)
        return ended


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
