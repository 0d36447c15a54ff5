"""Performing recorded steps through the notifier, and turning what happened into
:class:`~store.steps.Delivery` records (sent, failed, or to retry).

Members of one batch card that are due in the same claimed batch share the card's thread:
their reminders go out as one reply, and their level's escalation note as one note (see
:func:`shared_groups`). Each member keeps its own step and its own delivery record, so a
shared post that fails fails every member's step exactly as it would fail a lone ticket's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from escalation.chains import Step, StepKind
from escalation.notifier import DeliveryResult, Notifier
from store.errors import DeliveryError, StoreError
from store.models import Ticket
from store.steps import Delivery

if TYPE_CHECKING:
    from escalation.engine import TickReport

log = logging.getLogger("signoff.escalation")


@dataclass(frozen=True)
class Job:
    """One recorded step to perform now (a first attempt)."""

    ticket: Ticket
    step: Step
    step_id: int
    targets: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    """Targets the level could not reach before any DM (nobody on call, a group unread)."""
    batch: str | None = None
    """The batch whose card is this ticket's card (its thread posts may be shared)."""


def shared_groups(jobs: Sequence[Job]) -> tuple[list[Job], list[list[Job]]]:
    """Split ``jobs`` into those performed alone and groups sharing one thread post: two or
    more reminders on the same batch card, or two or more level DMs of the same level (with
    somebody to DM: a level nobody can be reached at posts no note, alone or not)."""
    groups: dict[tuple[object, ...], list[Job]] = {}
    alone: list[Job] = []
    for job in jobs:
        card = job.ticket.card
        nobody = job.step.kind is StepKind.NOTIFY and not job.targets  # posts nothing alone
        if job.batch is None or card is None or job.step.kind is StepKind.EXPIRE or nobody:
            alone.append(job)
            continue
        level = job.step.level if job.step.kind is StepKind.NOTIFY else None
        key = (job.batch, card.channel, card.ts, job.step.kind, level)
        groups.setdefault(key, []).append(job)
    shared = [g for g in groups.values() if len(g) > 1]
    alone += [g[0] for g in groups.values() if len(g) == 1]
    return alone, shared


class Deliverer:
    def __init__(self, notifier: Notifier, *, retry_backoff: timedelta,
                 max_attempts: int) -> None:
        self.notifier = notifier
        self.retry_backoff = retry_backoff
        self.max_attempts = max_attempts

    def perform(self, jobs: Sequence[Job], at: datetime, report: TickReport,
                batches: Callable[[Sequence[str]], dict[str, str]]) -> list[Delivery]:
        """Perform recorded first attempts, sharing thread posts within a batch card
        (``batches``: the batch card of each of some tickets, read only when two or more
        jobs could share one; if it cannot be read, each job goes alone)."""
        alone, shared = shared_groups(_with_batches(jobs, batches))
        out = [self._one(job, at, report) for job in alone]
        for group in shared:
            if group[0].step.kind is StepKind.REMIND:
                out += self._remind_shared(group, at, report)
            else:
                out += self._escalate_shared(group, at, report)
        return out

    def _one(self, job: Job, at: datetime, report: TickReport) -> Delivery:
        step = job.step
        if step.kind is StepKind.NOTIFY:
            report.escalations += 1
            return self.dm(job.ticket, job.step_id, step.level, job.targets, job.failed, at,
                           report, attempt=1)
        if step.kind is StepKind.REMIND:
            report.reminders += 1
            return self.notice(job.ticket, job.step_id, "remind", at, report, attempt=1)
        report.expiries += 1
        return self.notice(job.ticket, job.step_id, "expired", at, report, attempt=1)

    def _remind_shared(self, group: Sequence[Job], at: datetime,
                       report: TickReport) -> list[Delivery]:
        """One reply for the group; each member's delivery as if it had been its own."""
        tickets = [j.ticket for j in group]
        report.reminders += len(group)
        try:
            self.notifier.remind_batch(tickets, [at - t.created_at for t in tickets])
        except Exception as exc:
            return [self._notice_failed(j.ticket, j.step_id, "remind", exc, at, report,
                                        attempt=1) for j in group]
        return [Delivery(j.step_id, j.ticket.id, attempt=1) for j in group]

    def _escalate_shared(self, group: Sequence[Job], at: datetime,
                         report: TickReport) -> list[Delivery]:
        """Each member's DMs as before, under one escalation note in the card's thread."""
        report.escalations += len(group)
        level = group[0].step.level
        try:
            found = list(self.notifier.escalate_batch([j.ticket for j in group], level,
                                                      [j.targets for j in group]))
            if len(found) != len(group):
                raise DeliveryError(f"{len(found)} results for {len(group)} requests")
        except Exception as exc:
            found = [[DeliveryResult(t, False, str(exc) or repr(exc)) for t in j.targets]
                     for j in group]
        return [self._dm_done(j.ticket, j.step_id, j.failed, list(results), at, report,
                              attempt=1) for j, results in zip(group, found, strict=True)]

    def notice(self, ticket: Ticket, step_id: int, what: str, at: datetime,
               report: TickReport, *, attempt: int) -> Delivery:
        """A reminder or the expiry notice. Only the expiry notice is retried."""
        try:
            if what == "remind":
                self.notifier.remind(ticket, at - ticket.created_at)
            else:
                self.notifier.expired(ticket)
        except Exception as exc:
            return self._notice_failed(ticket, step_id, what, exc, at, report, attempt=attempt)
        return Delivery(step_id, ticket.id, attempt=attempt)

    def _notice_failed(self, ticket: Ticket, step_id: int, what: str, exc: Exception,
                       at: datetime, report: TickReport, *, attempt: int) -> Delivery:
        report.failures += 1
        transient = isinstance(exc, DeliveryError) and exc.retryable
        again = transient and what == "expired" and attempt < self.max_attempts
        wait = exc.retry_after if isinstance(exc, DeliveryError) else None
        return Delivery(step_id, ticket.id, failed=((what, str(exc) or repr(exc)),),
                        retry=(what,) if again else (),
                        retry_at=self.retry_at(at, attempt, wait), attempt=attempt)

    def dm(self, ticket: Ticket, step_id: int, level: int, targets: Sequence[str],
           failed: Sequence[tuple[str, str]], at: datetime, report: TickReport, *,
           attempt: int) -> Delivery:
        try:
            results = list(self.notifier.escalate(ticket, level, targets, retry=attempt > 1)
                           ) if targets else []
        except Exception as exc:
            results = [DeliveryResult(t, False, str(exc) or repr(exc)) for t in targets]
        return self._dm_done(ticket, step_id, failed, results, at, report, attempt=attempt)

    def _dm_done(self, ticket: Ticket, step_id: int, failed: Sequence[tuple[str, str]],
                 results: list[DeliveryResult], at: datetime, report: TickReport, *,
                 attempt: int) -> Delivery:
        bad = [r for r in results if not r.ok]
        report.dms += len(results) - len(bad)
        report.failures += len(bad) + len(failed)
        retry = tuple(r.target for r in bad if r.retryable and attempt < self.max_attempts)
        return Delivery(step_id, ticket.id,
                        failed=(*failed, *((r.target, r.error or "failed") for r in bad)),
                        retry=retry, retry_at=self.retry_at(at, attempt, _after(bad)),
                        messages=tuple(r.message for r in results if r.message), attempt=attempt)

    def retry_at(self, at: datetime, attempt: int, retry_after: float | None) -> datetime:
        backoff = self.retry_backoff * (2 ** (attempt - 1))
        return at + max(backoff, timedelta(seconds=retry_after or 0))


def _with_batches(jobs: Sequence[Job],
                  batches: Callable[[Sequence[str]], dict[str, str]]) -> list[Job]:
    maybe = [j.ticket.id for j in jobs if j.ticket.card is not None
             and j.step.kind is not StepKind.EXPIRE]
    if len(maybe) < 2:
        return list(jobs)
    try:
        found = batches(maybe)
    except StoreError:
        log.exception("could not read the batch cards of %d tickets", len(maybe))
        return list(jobs)
    return [replace(j, batch=found.get(j.ticket.id)) for j in jobs]


def _after(bad: Sequence[DeliveryResult]) -> float | None:
    waits = [r.retry_after for r in bad if r.retry_after]
    return max(waits) if waits else None
