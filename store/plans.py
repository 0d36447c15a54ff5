"""Plans: one approval for a short list of steps, each started once, in order.

A plan is a ticket whose action is :data:`~store.models.PLAN_ACTION` and whose arguments are
the steps; reviewing, editing, two-person rules, deadlines and the audit chain are a ticket's.
This module keeps what happens after approval: a ``plans`` row (how long the steps may run,
why the plan ended) and one ``plan_steps`` row per step that started. Starting a step is one
transaction under the ticket's row lock that checks, against the approved arguments, that
the step offered is the next one (same action, same arguments by hash), that the plan is
still running and inside its deadline, and that the ticket's audit events back the approval;
the row's primary key ``(ticket, index)`` makes a step start once even when two executors
race. Every refusal is audited and raised after commit as :class:`PlanStepRefused`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import audit_verify, tickets
from store.convert import to_ticket
from store.errors import PlanStepRefused, TicketNotFound
from store.ledger import Ledger
from store.models import (
    PLAN_ACTION,
    NewTicket,
    PlanProgress,
    PlanStep,
    PlanStepState,
    Ticket,
    TicketStatus,
    args_hash,
    plan_steps,
)
from store.tables import PlanRow, PlanStepRow, TicketRow
from store.tickets import SYSTEM_ACTOR, OpenCap

#: How long an approved plan's steps may run when the configuration does not say.
PLAN_DEADLINE = timedelta(hours=1)
#: What a step that never started shows once its plan ended, by why it ended.
_LEFT = {"stopped": PlanStepState.STOPPED, "failed": PlanStepState.STOPPED,
         "outcome_unknown": PlanStepState.STOPPED, "expired": PlanStepState.EXPIRED}
#: A step's ``state`` once it reported.
_ENDS = {True: PlanStepState.DONE, False: PlanStepState.FAILED}


class PlanStore:
    """The ledger's plan operations (thread-safe, like the ledger)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    # -- creating and reading ------------------------------------------------------------

    def create(self, draft: Callable[[datetime], NewTicket], *, deadline: timedelta,
               cap: OpenCap | None = None) -> tuple[Ticket, bool]:
        """The plan's ticket and its ``plans`` row, in one transaction (or the existing plan
        for the same idempotency key); ``cap`` as for ``Ledger.create_ticket``."""
        if deadline <= timedelta(0):
            raise ValueError("a plan's deadline must be positive")
        resolved: NewTicket | None = None
        try:
            with self.ledger.transactions() as s:
                now = self.ledger._now(s)
                resolved = tickets.resolve(draft, now)
                if resolved.action != PLAN_ACTION:
                    raise ValueError(f"a plan's ticket has the action {PLAN_ACTION}")
                ticket, created = self.ledger._create(s, resolved, now, cap)
                if created:
                    s.add(PlanRow(ticket_id=ticket.id, created_at=now,
                                  deadline_s=int(deadline.total_seconds())))
                return ticket, created
        except IntegrityError:
            if resolved is None or resolved.idempotency_key is None:
                raise
            found = self.ledger.find_by_idempotency_key(resolved.requested_by,
                                                        resolved.idempotency_key)
            if found is None:
                raise
            tickets.same_request(found.action, found.args_hash, found.id, resolved)
            return found, False

    def progress(self, ticket_id: str) -> PlanProgress:
        """Where the plan stands (its steps from the arguments that will run)."""
        with self.ledger.transactions(write=False) as s:
            ticket = s.get(TicketRow, ticket_id)
            plan = s.get(PlanRow, ticket_id)
            if ticket is None or plan is None or ticket.action != PLAN_ACTION:
                raise TicketNotFound(ticket_id)
            return _progress(ticket, plan, _rows(s, ticket_id))

    def is_plan(self, ticket_id: str) -> bool:
        with self.ledger.transactions(write=False) as s:
            return s.get(PlanRow, ticket_id) is not None

    # -- running steps ---------------------------------------------------------------------

    def start_step(self, plan_id: str, *, action: str, args: dict[str, Any],
                   actor: str) -> PlanStep:
        """Start the plan's next step, if ``action`` and ``args`` are exactly it; else audit
        the refusal and raise :class:`PlanStepRefused` (nothing starts)."""
        offered = args_hash(args)
        try:
            with self.ledger.transactions() as s:
                ticket, plan = self._lock(s, plan_id)
                now = self.ledger._now(s)
                progress = _progress(ticket, plan, _rows(s, plan_id))
                refusal = self._refusal(s, ticket, plan, progress, action, offered, now)
                if refusal is None:
                    step = progress.steps[progress.next_index or 0]
                    s.add(PlanStepRow(ticket_id=plan_id, idx=step.index, action=step.action,
                                      args_sha256=offered, state=PlanStepState.RUNNING.value,
                                      actor=actor, started_at=now))
                    s.flush()  # the primary key decides a race here, before the audit
                    self.ledger._audit(s, plan_id, "plan_step_started", actor, now,
                                       step=step.index + 1, action=step.action,
                                       args_hash=offered)
                    return step.model_copy(update={"state": PlanStepState.RUNNING})
                self.ledger._audit(s, plan_id, "plan_step_refused", actor, now,
                                   offered_action=action, offered_hash=offered, why=refusal)
        except IntegrityError:
            refusal = "that step already started (another executor has it); it runs once"
        raise PlanStepRefused(plan_id, refusal)

    def _refusal(self, s: Session, ticket: TicketRow, plan: PlanRow, progress: PlanProgress,
                 action: str, offered: str, now: datetime) -> str | None:
        """Why the step offered may not start now (None: it is the next step)."""
        if ticket.status != TicketStatus.APPROVED:
            return (f"the plan is {ticket.status}, not approved; wait for its approval "
                    "(client.wait) before running its steps")
        if progress.deadline_at is not None and now >= progress.deadline_at and not plan.ended:
            _end(plan, "expired", SYSTEM_ACTOR, now)
            self.ledger._audit(s, ticket.id, "plan_expired", SYSTEM_ACTOR, now,
                               deadline_at=progress.deadline_at.isoformat())
            return (f"its deadline passed at {progress.deadline_at.isoformat()}; the steps "
                    "left did not run: request a new plan, or each action on its own")
        if plan.ended:
            return _ended_text(plan)
        index = progress.next_index
        if index is None:
            return ("a step is still running; report its outcome before the next one starts"
                    if progress.count(PlanStepState.RUNNING) else "every step already ran")
        step = progress.steps[index]
        if step.action == action and args_hash(step.args) == offered:
            problems = audit_verify.backing_problems(s, ticket, self.ledger.audit_key)
            return f"its approval is not backed by its audit trail: {problems}" \
                if problems else None
        return _mismatch(progress, index, action, offered)

    def finish_step(self, plan_id: str, index: int, *, ok: bool, actor: str,
                    summary: str | None = None, error: str | None = None) -> PlanProgress:
        """Record how a running step ended. A failed step ends the plan: later steps may
        depend on it, so they need a new approval."""
        with self.ledger.transactions() as s:
            ticket, plan = self._lock(s, plan_id)
            row = s.get(PlanStepRow, (plan_id, index))
            late = row is not None and row.state == PlanStepState.OUTCOME_UNKNOWN
            if row is None or (row.state != PlanStepState.RUNNING and not late):
                raise PlanStepRefused(plan_id, f"step {index + 1} is not running, so it has "
                                               "no outcome to report")
            now = self.ledger._now(s)
            row.state = _ENDS[ok].value
            row.finished_at, row.summary, row.error = now, summary, error
            self.ledger._audit(s, plan_id, "plan_step_done" if ok else "plan_step_failed",
                               actor, now, step=index + 1, summary=summary, error=error,
                               **({"late": True} if late else {}))
            steps = len(plan_steps(ticket.final_args))
            if not plan.ended and (not ok or index + 1 == steps):
                _end(plan, "done" if ok else "failed", actor, now)
            s.flush()
            return _progress(ticket, plan, _rows(s, plan_id))

    def lose_steps(self, *, at: datetime, lease: timedelta) -> list[str]:
        """Steps started more than ``lease`` before ``at`` that never reported become
        ``outcome_unknown`` and halt their plan (audited); nothing re-runs them. The ids of
        the plans concerned."""
        with self.ledger.transactions(write=False) as s:
            lost = s.execute(select(PlanStepRow.ticket_id, PlanStepRow.idx).where(
                PlanStepRow.state == PlanStepState.RUNNING.value,
                PlanStepRow.started_at < at - lease)).all()
        return [pid for pid, idx in lost if self._lose(pid, idx)]

    def _lose(self, plan_id: str, index: int) -> bool:
        with self.ledger.transactions() as s:
            _ticket, plan = self._lock(s, plan_id)
            row = s.get(PlanStepRow, (plan_id, index))
            if row is None or row.state != PlanStepState.RUNNING:
                return False
            now = self.ledger._now(s)
            row.state = PlanStepState.OUTCOME_UNKNOWN.value
            self.ledger._audit(s, plan_id, "plan_step_outcome_unknown", SYSTEM_ACTOR, now,
                               step=index + 1, note="it never reported an outcome; it will "
                               "not run again; a human must check what happened")
            if not plan.ended:
                _end(plan, "outcome_unknown", SYSTEM_ACTOR, now)
            return True

    def stop(self, plan_id: str, *, by: str) -> tuple[PlanProgress, bool]:
        """A reviewer stops the rest of the plan (audited); a running step still reports
        its outcome. ``(progress, stopped)``: False when the plan had ended already."""
        with self.ledger.transactions() as s:
            ticket, plan = self._lock(s, plan_id)
            stopped = plan.ended is None
            if stopped:
                now = self.ledger._now(s)
                _end(plan, "stopped", by, now)
                self.ledger._audit(s, plan_id, "plan_stopped", by, now)
                s.flush()
            return _progress(ticket, plan, _rows(s, plan_id)), stopped

    def expire_due(self, *, at: datetime, limit: int = 50) -> list[str]:
        """End up to ``limit`` approved plans whose deadline passed before ``at`` with steps
        left; the ids of those that ended now (the sweep refreshes their cards). Open
        approved plans are few and short-lived, so all of them are looked at."""
        with self.ledger.transactions(write=False) as s:
            rows = s.execute(
                select(PlanRow.ticket_id, PlanRow.deadline_s, TicketRow.decided_at,
                       TicketRow.created_at)
                .join(TicketRow, TicketRow.id == PlanRow.ticket_id)
                .where(PlanRow.ended.is_(None),
                       TicketRow.status == TicketStatus.APPROVED.value)).all()
        due = [pid for pid, seconds, decided, created in rows
               if (decided or created) + timedelta(seconds=seconds) <= at]
        return [pid for pid in due[:limit] if self._expire(pid, at)]

    def _expire(self, plan_id: str, at: datetime) -> bool:
        with self.ledger.transactions() as s:
            ticket, plan = self._lock(s, plan_id)
            progress = _progress(ticket, plan, _rows(s, plan_id))
            if plan.ended or progress.deadline_at is None or progress.deadline_at > at:
                return False
            now = self.ledger._now(s)
            _end(plan, "expired", SYSTEM_ACTOR, now)
            self.ledger._audit(s, plan_id, "plan_expired", SYSTEM_ACTOR, now,
                               deadline_at=progress.deadline_at.isoformat())
            return True

    def ticket(self, plan_id: str) -> Ticket:
        with self.ledger.transactions(write=False) as s:
            row = s.get(TicketRow, plan_id)
            if row is None:
                raise TicketNotFound(plan_id)
            return to_ticket(row, self.ledger._messages(s, plan_id))

    def _lock(self, s: Session, plan_id: str) -> tuple[TicketRow, PlanRow]:
        ticket = self.ledger._lock(s, plan_id, for_agent=True)
        plan = s.get(PlanRow, plan_id, with_for_update=True)
        if plan is None or ticket.action != PLAN_ACTION:
            raise PlanStepRefused(plan_id, "this request is not a plan; run its action with "
                                           "client.execute (or request a plan first)")
        return ticket, plan


def _rows(s: Session, plan_id: str) -> Sequence[PlanStepRow]:
    return s.execute(select(PlanStepRow).where(PlanStepRow.ticket_id == plan_id)
                     .order_by(PlanStepRow.idx)).scalars().all()


def _progress(ticket: TicketRow, plan: PlanRow, rows: Sequence[PlanStepRow]) -> PlanProgress:
    deadline = timedelta(seconds=plan.deadline_s)
    approved = ticket.status in (TicketStatus.APPROVED.value,)
    base = ticket.decided_at or ticket.created_at
    left = _LEFT.get(plan.ended or "", PlanStepState.REMAINING)
    started = {r.idx: r for r in rows}
    steps = []
    for step in plan_steps(ticket.final_args):
        row = started.get(step.index)
        if row is None:
            steps.append(step.model_copy(update={"state": left}))
        else:
            steps.append(step.model_copy(update={"state": PlanStepState(row.state),
                                                 "summary": row.summary, "error": row.error}))
    return PlanProgress(ticket_id=ticket.id, steps=tuple(steps), ended=plan.ended,
                        ended_by=plan.ended_by, ended_at=plan.ended_at, deadline=deadline,
                        deadline_at=base + deadline if approved or rows else None)


def _end(plan: PlanRow, why: str, by: str, now: datetime) -> None:
    plan.ended, plan.ended_by, plan.ended_at = why, by, now


def _ended_text(plan: PlanRow) -> str:
    return {
        "stopped": f"a reviewer ({plan.ended_by}) stopped the plan; nothing more of it runs: "
                   "request what is still needed on its own",
        "expired": "its deadline passed; the steps left did not run: request a new plan, "
                   "or each action on its own",
        "failed": "an earlier step failed, which ends the plan: request a new plan for the "
                  "steps still needed",
        "done": "every step already ran",
        "outcome_unknown": "a step never reported its outcome, which halts the plan until a "
                           "human checks: request a new plan for the steps still needed",
    }.get(plan.ended or "", f"the plan ended ({plan.ended})")


def _mismatch(progress: PlanProgress, index: int, action: str, offered: str) -> str:
    """Why an offered step is not the next one, and what to do instead."""
    step = progress.steps[index]
    later = [s for s in progress.steps
             if s.action == action and args_hash(s.args) == offered and s.index != index]
    if later:
        return (f"{action} is step {later[0].index + 1}, but step {index + 1} ({step.action}) "
                "comes first: run the steps in the order they were approved")
    if step.action == action:
        return (f"these arguments for {action} are not the ones approved for step "
                f"{index + 1}: run it with the approved arguments, or request this call's "
                "own approval with client.request()")
    return (f"{action} with these arguments is not in the plan (step {index + 1} is "
            f"{step.action}): request its own approval with client.request()")
