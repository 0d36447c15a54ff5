"""The sweep: reminders, on-call DMs and expiry, each exactly once on any number of replicas.

One :meth:`EscalationEngine.tick` claims due tickets in batches (a lease, see
``store.sweep``), works out each ticket's due steps from the chain snapshot it carries, and
for each batch:

1. records the steps, their audit events (``reminded``/``escalated``/``expired``) and the
   tickets' new cursors in **one transaction**; for each ticket only one sweeper can win;
2. then performs the Slack effects through the :class:`~escalation.notifier.Notifier`;
3. then records how they went (``delivery_failed`` in the audit for each failure, and a
   retry for failures Slack guarantees posted nothing).

Delivery is therefore **at most once**: a sweeper that dies between 1 and 2 leaves recorded
steps that are never sent (their rows stay ``recorded``), but nothing is ever sent
twice. Transient failures are retried with backoff on later ticks, at most
``max_attempts`` times in all.

When the sweep falls behind (a restart, an outage), it catches up in one go: an overdue
expiry wins and nothing else is sent; otherwise every overdue level is DM'd once (only the
latest pass of a level, when several passes are overdue), and only the latest overdue
reminder is posted, and none when a level DM (which notes itself in the thread) goes out.
Overtaken level DMs are recorded as ``skipped``; overtaken reminders are only counted.

Members of one batch card due in the same claimed batch share their thread posts: one
reminder reply, and one escalation note per level (:mod:`escalation.delivery`). Their steps,
audit events and delivery records stay one per ticket.

Time. ``tick(at)`` plans with ``at`` alone; the expiry itself is written only once the
database's clock has passed ``expires_at`` (the same clock that refuses late decisions),
read once per tick.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from escalation.chains import ChainSpec, PlannedLevel, Step, StepKind, Timeline, plan
from escalation.delivery import Deliverer, Job
from escalation.notifier import Notifier
from escalation.schedules import Schedule
from escalation.sweep_store import SweepLedger
from store.errors import ConfigError, StoreError
from store.models import Ticket, is_user_group
from store.steps import (
    Cursor,
    Delivery,
    EscalationStep,
    Recorded,
    StepPlan,
    StepRecord,
    StepStatus,
)

log = logging.getLogger("signoff.escalation")

AUDIT_KIND = {StepKind.REMIND: "reminded", StepKind.NOTIFY: "escalated",
              StepKind.EXPIRE: "expired"}
EXPIRED_NOTE = "nobody decided in time; nothing was executed"


class ChainConfig(Protocol):
    """What the engine needs from ``SignoffConfig`` (for tickets created without a plan)."""

    @property
    def schedules(self) -> dict[str, Schedule]: ...
    def chain(self, name: str) -> ChainSpec: ...


ChainSource = ChainConfig | Callable[[str], ChainSpec] | None


@dataclass
class TickReport:
    claimed: int = 0
    reminders: int = 0
    escalations: int = 0
    """Levels reached (each one a round of DMs)."""
    dms: int = 0
    """Individual DMs delivered."""
    expiries: int = 0
    skipped: int = 0
    """Overdue steps overtaken by later ones while catching up."""
    retries: int = 0
    failures: int = 0
    """Deliveries that failed, and tickets whose processing raised."""
    lost: int = 0
    """Tickets another sweeper had already moved on, or that were decided meanwhile."""
    repaired: int = 0
    """Tickets whose card or DM copies showed an older version, re-rendered."""
    outcomes_unknown: int = 0
    """Executions whose lease ran out with no outcome, now ``outcome_unknown``."""


@dataclass
class _Work:
    """The steps one ticket needs now, and where its cursor goes."""

    act: list[Step]
    skipped_levels: list[Step]
    skipped_reminders: int
    cursor: Cursor
    expire: bool
    targets: dict[tuple[int, int], tuple[str, ...]] = field(default_factory=dict)
    failed: dict[tuple[int, int], list[tuple[str, str]]] = field(default_factory=dict)


class EscalationEngine:
    def __init__(self, store: SweepLedger, chains: ChainSource, notifier: Notifier, *,
                 owner: str, batch_size: int = 50, lease: timedelta = timedelta(seconds=60),
                 retry_backoff: timedelta = timedelta(seconds=30), max_attempts: int = 4,
                 max_batches: int = 200) -> None:
        self.store = store
        self.chains = chains
        self.notifier = notifier
        self.owner = owner
        self.batch_size = batch_size
        self.lease = lease
        self.retry_backoff = retry_backoff
        self.max_attempts = max_attempts
        self.max_batches = max_batches
        self.deliver = Deliverer(notifier, retry_backoff=retry_backoff,
                                 max_attempts=max_attempts)

    # -- the tick ---------------------------------------------------------------------------

    def tick(self, at: datetime) -> TickReport:
        """Handle everything due at ``at`` (an aware instant; the caller's clock, read once)."""
        if at.tzinfo is None:
            raise ValueError("tick(at=...) needs an aware datetime")
        db_now = self.store.db_now()
        report = TickReport()
        for _ in range(self.max_batches):
            batch = self.store.claim_due(owner=self.owner, at=at, limit=self.batch_size,
                                          lease=self.lease)
            if not batch:
                break  # a short batch is no proof: other sweepers may hold due tickets' locks
            report.claimed += len(batch)
            released = self._batch(batch, at, db_now, report)
            self.store.release_claims([t.id for t in batch if t.id not in released],
                                       owner=self.owner, hold_until=at)
        self._lost_executions(at, report)
        self._repair(report)
        return report

    def _repair(self, report: TickReport) -> None:
        """Re-render cards whose shown version is behind their ticket: a ``chat.update`` that
        failed, or a crash between a decision and its update, is healed within a tick.
        Re-rendering is idempotent, so two replicas repairing the same card do no harm."""
        try:
            behind = self.store.behind_surfaces(limit=self.batch_size)
        except StoreError:
            log.exception("could not read the cards to repair")
            report.failures += 1
            return
        for ticket in behind:
            try:
                if self.notifier.refresh(ticket):
                    self.store.mark_shown(ticket.id, ticket.version)
                    report.repaired += 1
                else:
                    report.failures += 1
            except Exception:  # one card must not stop the sweep
                log.exception("repairing the card of ticket %s failed", ticket.id)
                report.failures += 1

    def _lost_executions(self, at: datetime, report: TickReport) -> None:
        """Executions that never reported back within their lease: say so, once (the
        transition is the claim); they never run again by themselves."""
        for _ in range(self.max_batches):
            try:
                lost = self.store.lose_executions(at=at, limit=self.batch_size)
            except StoreError:
                log.exception("could not mark lost executions")
                report.failures += 1
                return
            for ticket in lost:
                report.outcomes_unknown += 1
                try:
                    self.notifier.outcome_unknown(ticket)
                except Exception as exc:  # the ledger is the record; the note is a courtesy
                    log.warning("outcome_unknown note for %s failed: %s", ticket.id, exc)
                    report.failures += 1
            if len(lost) < self.batch_size:
                return

    def _batch(self, batch: list[Ticket], at: datetime, db_now: datetime,
               report: TickReport) -> set[str]:
        """Work one claimed batch; returns the tickets whose claims recording released."""
        deliveries: list[Delivery] = []
        retries = self.store.due_retries([t.id for t in batch], at)
        plans: list[tuple[StepPlan, _Work]] = []
        for ticket in batch:
            try:
                deliveries += self._retries(ticket, retries.get(ticket.id, ()), at, report)
                if ticket.status.is_open and (planned := self._plan(ticket, at, db_now)):
                    plans.append(planned)
            except Exception as exc:  # one bad ticket must not stop the sweep
                log.exception("escalation of ticket %s failed: %s", ticket.id, exc)
                report.failures += 1
        released = self._record(plans, at, report, deliveries)
        self._finish(deliveries, report)
        return released

    def _finish(self, deliveries: list[Delivery], report: TickReport) -> None:
        try:
            self.store.finish_steps(deliveries)
        except StoreError:
            log.exception("could not record the outcome of %d deliveries", len(deliveries))
            report.failures += 1

    # -- working out a ticket's due steps ---------------------------------------------------

    def timeline(self, ticket: Ticket) -> Timeline:
        """The ticket's steps. A snapshot that cannot be read still leaves the expiry."""
        try:
            snapshot = ticket.escalation
            if snapshot is None and ticket.route.chain and self.chains is not None:
                snapshot = self._plan_now(ticket, ticket.route.chain)
            return Timeline(snapshot, created_at=ticket.created_at,
                            expires_at=ticket.expires_at)
        except (ConfigError, KeyError, TypeError, ValueError) as exc:
            log.error("ticket %s: unreadable escalation plan (%s); it will only expire",
                      ticket.id, exc)
            return Timeline(None, created_at=ticket.created_at, expires_at=ticket.expires_at)

    def _plan_now(self, ticket: Ticket, name: str) -> dict[str, object]:
        source = self.chains
        if callable(source):
            return plan(source(name), created_at=ticket.created_at, name=name).snapshot
        assert source is not None
        return plan(source.chain(name), created_at=ticket.created_at,
                    schedules=source.schedules, name=name).snapshot

    def _work(self, ticket: Ticket, timeline: Timeline, at: datetime,
              db_now: datetime) -> _Work | None:
        cursor = Cursor.of(ticket)
        since = cursor.next_action_at or timeline.created_at
        try:
            stage = timeline.stage_of(cursor.loop, cursor.level)
        except ValueError:  # the cursor names a level the plan lacks: go by the clock
            stage = timeline.stage_at(since)
        due = timeline.due(stage, since=since, at=at)
        if stage == 0 and ticket.card is None and timeline.levels:
            due = _start_at_once(timeline, due, at)
        steps = [s for s in due if s.kind is not StepKind.EXPIRE]
        new = _cursor_after(timeline, steps[-1] if steps else None, stage, at)
        expiry = [s for s in due if s.kind is StepKind.EXPIRE]
        if expiry and ticket.expires_at <= db_now:
            levels = [s for s in steps if s.kind is StepKind.NOTIFY]
            return _Work(expiry, levels, len(steps) - len(levels), new, True)
        act, skipped = _catch_up(steps)
        if not act and new == cursor:
            return None
        return _Work(act, skipped, len(steps) - len(act) - len(skipped), new, False)

    # -- doing it -----------------------------------------------------------------------------

    def _plan(self, ticket: Ticket, at: datetime,
              db_now: datetime) -> tuple[StepPlan, _Work] | None:
        timeline = self.timeline(ticket)
        work = self._work(ticket, timeline, at, db_now)
        if work is None:
            return None
        for step in work.act:
            if step.kind is StepKind.NOTIFY:
                self._resolve(ticket, timeline.planned(step.loop, step.level), work)
        records = tuple(_records(ticket, work, at))
        return StepPlan(ticket, work.cursor, records, work.expire), work

    def _record(self, plans: list[tuple[StepPlan, _Work]], at: datetime, report: TickReport,
                deliveries: list[Delivery]) -> set[str]:
        """Record the batch's steps (one transaction), then perform each recorded step."""
        if not plans:
            return set()
        try:
            results = self.store.record_batch([p for p, _ in plans], owner=self.owner,
                                               release_at=at)
        except StoreError:
            log.exception("could not record the steps of %d tickets", len(plans))
            report.failures += len(plans)
            return set()
        released, jobs = set(), []
        for planned, work in plans:
            result = results.get(planned.ticket.id)
            if result is None:
                report.lost += 1
            if not isinstance(result, Recorded):
                continue  # lost, or the database's clock says the deadline has not passed
            released.add(planned.ticket.id)
            report.skipped += len(work.skipped_levels) + work.skipped_reminders
            jobs += [_job(result.ticket, step, result.ids[(step.loop, step.level, step.key)],
                          work) for step in work.act]
        deliveries += self.deliver.perform(jobs, at, report, self.store.batch_cards)
        return released

    def _resolve(self, ticket: Ticket, planned: PlannedLevel, work: _Work) -> None:
        """Expand user groups, apply round robin, and leave the requester out."""
        users: dict[str, None] = {}
        failed: list[tuple[str, str]] = [(s, "nobody on call") for s in planned.nobody]
        for target in planned.targets:
            try:
                members = self.notifier.resolve_group(target) if is_user_group(target) else [target]
            except Exception as exc:  # a Slack failure must not stop the other targets
                failed.append((target, f"could not list the user group: {exc}"))
                continue
            users.update(dict.fromkeys(m for m in members if m != ticket.requested_by))
        chosen = list(users)
        if planned.round_robin and chosen:
            chosen = [chosen[(zlib.crc32(ticket.id.encode()) + planned.loop) % len(chosen)]]
        if not chosen and not failed:
            failed.append((f"level {planned.level}", "nobody to notify"))
        key = (planned.loop, planned.level)
        work.targets[key], work.failed[key] = tuple(chosen), failed

    # -- retries ------------------------------------------------------------------------------

    def _retries(self, ticket: Ticket, due: Sequence[EscalationStep], at: datetime,
                 report: TickReport) -> list[Delivery]:
        out = []
        for step in due:
            # A DM is moot once the ticket is decided, or re-routed away from its chain.
            abandon = step.kind == StepKind.NOTIFY.value and (
                not ticket.status.is_open or step.epoch != ticket.escalation_epoch)
            if not self.store.begin_retry(step.id, attempts=step.attempts, abandon=abandon):
                continue
            if not abandon:
                report.retries += 1
                out.append(self._retry(ticket, step, at, report))
        return out

    def _retry(self, ticket: Ticket, step: EscalationStep, at: datetime,
               report: TickReport) -> Delivery:
        attempt = step.attempts + 1
        if step.kind == StepKind.NOTIFY.value:
            return self.deliver.dm(ticket, step.id, step.level, step.pending, (), at, report,
                                   attempt=attempt)
        return self.deliver.notice(ticket, step.id, "expired", at, report, attempt=attempt)


def _start_at_once(timeline: Timeline, due: list[Step], at: datetime) -> list[Step]:
    """The card never reached Slack: nobody can see the request, so call the first level now
    (reminders would have no thread to go to)."""
    first = timeline.levels[0]
    now = Step(StepKind.NOTIFY, 1, first.loop, first.level, 0, min(at, first.at))
    later = [s for s in due if s.stage >= 1 and not (s.kind is StepKind.NOTIFY and s.stage == 1)]
    return [now, *later]


def _catch_up(steps: list[Step]) -> tuple[list[Step], list[Step]]:
    """What to send of the overdue steps, and which level DMs were overtaken."""
    notifies = [s for s in steps if s.kind is StepKind.NOTIFY]
    latest = {s.level: s for s in notifies}
    act = [s for s in notifies if latest[s.level] is s]
    skipped = [s for s in notifies if latest[s.level] is not s]
    reminders = [s for s in steps if s.kind is StepKind.REMIND]
    if not notifies:
        act = reminders[-1:]
    return act, skipped


def _cursor_after(timeline: Timeline, last: Step | None, stage: int, at: datetime) -> Cursor:
    stage = stage if last is None else last.stage
    loop, level = timeline.stage_owner(stage)
    following = timeline.next_step(stage, after=at)
    return Cursor(loop, level, following.due if following else None)


def _job(ticket: Ticket, step: Step, step_id: int, work: _Work) -> Job:
    key = (step.loop, step.level)
    return Job(ticket, step, step_id, work.targets.get(key, ()), tuple(work.failed.get(key, ())))


def _records(ticket: Ticket, work: _Work, at: datetime) -> list[StepRecord]:
    records = [StepRecord(s.loop, s.level, s.key, s.kind.value, s.due, status=StepStatus.SKIPPED)
               for s in work.skipped_levels]
    for index, step in enumerate(work.act):
        data = _audit_data(ticket, step, work, at)
        if index == 0 and (work.skipped_levels or work.skipped_reminders):
            data["skipped"] = {"levels": [s.level for s in work.skipped_levels],
                               "reminders": work.skipped_reminders}
        records.append(StepRecord(step.loop, step.level, step.key, step.kind.value, step.due,
                                  targets=work.targets.get((step.loop, step.level), ()),
                                  audit_kind=AUDIT_KIND[step.kind], audit_data=data))
    return records


def _audit_data(ticket: Ticket, step: Step, work: _Work, at: datetime) -> dict[str, object]:
    if step.kind is StepKind.REMIND:
        return {"reminder": step.number, "waited_seconds": int((at - ticket.created_at)
                                                               .total_seconds())}
    if step.kind is StepKind.EXPIRE:
        return {"expires_at": ticket.expires_at.isoformat(), "note": EXPIRED_NOTE}
    key = (step.loop, step.level)
    return {"targets": list(work.targets.get(key, ())),
            "failed": [list(f) for f in work.failed.get(key, [])],
            "pass": step.loop + 1, "started_at_once": ticket.card is None}
