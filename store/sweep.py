"""Claiming due tickets and recording escalation steps exactly once (mixed into ``Ledger``).

Any number of sweepers (threads, processes, replicas) may run at once:

- **Claims** are a lease: ``claimed_by``/``claimed_until`` set by a compare-and-set on
  tickets whose lease is free, after ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (so
  sweepers take disjoint batches without waiting) and inside SQLite's single writer. A crashed
  sweeper's claims fall back to the pool when the lease runs out. Leases only spread work;
  correctness never depends on them.
- **Steps** are rows of ``escalation_steps`` with a unique ``(ticket, loop, level, step)``.
  :meth:`SweepMixin.record_steps` writes the step rows, their audit events and the ticket's
  new cursor in one transaction, and only if the cursor is still the one the sweeper read.
  Two sweepers that raced on the same step cannot both commit it: the loser gets no step
  and performs no effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.convert import to_ticket
from store.errors import TransitionRefused
from store.models import AuditEvent, SlackRef, Ticket, TicketStatus
from store.states import Event
from store.tables import Base, MessageRow, TicketRow, UTCDateTime

SWEEP_ACTOR = "signoff"
OPEN_STATUSES = (TicketStatus.PENDING.value, TicketStatus.NEEDS_INFO.value)


class StepStatus:
    RECORDED = "recorded"  # written; its effect was attempted once after the commit
    SENT = "sent"
    SKIPPED = "skipped"  # overtaken while the sweep was behind; never sent
    RETRYING = "retrying"  # some targets failed for a passing reason; due again at retry_at
    SENDING = "sending"  # a retry is under way
    FAILED = "failed"  # some targets could not be reached; given up
    ABANDONED = "abandoned"  # a retry no longer needed: the ticket was decided


class EscalationStepRow(Base):
    __tablename__ = "escalation_steps"
    __table_args__ = (
        UniqueConstraint("ticket_id", "loop", "level", "step", name="uq_escalation_steps_key"),
        Index("ix_escalation_steps_retry", "status", "retry_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    loop: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    owner: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    targets: Mapped[list[str]] = mapped_column(JSON)
    pending: Mapped[list[str]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class Cursor:
    """Where a ticket's escalation stands: the stage's ``(loop, level)`` and its next step."""

    loop: int
    level: int
    next_action_at: datetime | None

    @classmethod
    def of(cls, ticket: Ticket) -> Cursor:
        return cls(ticket.escalation_loop, ticket.escalation_level, ticket.next_action_at)


@dataclass(frozen=True)
class StepRecord:
    """A step to write. ``audit_kind`` None writes no audit event (skipped steps)."""

    loop: int
    level: int
    step: str
    kind: str
    due_at: datetime
    targets: tuple[str, ...] = ()
    status: str = StepStatus.RECORDED
    audit_kind: str | None = None
    audit_data: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, int, str]:
        return self.loop, self.level, self.step


@dataclass(frozen=True)
class EscalationStep:
    """A recorded step, as read back."""

    id: int
    ticket_id: str
    loop: int
    level: int
    step: str
    kind: str
    due_at: datetime
    recorded_at: datetime
    owner: str
    status: str
    targets: tuple[str, ...]
    pending: tuple[str, ...]
    attempts: int
    retry_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class Delivery:
    """What happened when a step's effect was performed (or retried)."""

    step_id: int
    ticket_id: str
    failed: tuple[tuple[str, str], ...] = ()
    """``(target, error)`` for every target that was not reached."""
    retry: tuple[str, ...] = ()
    """Targets to try again at ``retry_at`` (a subset of the failed ones)."""
    retry_at: datetime | None = None
    messages: tuple[SlackRef, ...] = ()
    """DMs posted, remembered with the ticket (the bot updates them when it is decided)."""
    attempt: int = 1


class SweepMixin:
    """The sweep's half of the ledger. ``Ledger`` supplies the plumbing below."""

    if TYPE_CHECKING:
        def _tx(self, *, write: bool = True) -> AbstractContextManager[Session]: ...
        def _lock(self, session: Session, ticket_id: str) -> TicketRow: ...
        def _now(self, session: Session) -> datetime: ...
        def _audit(self, s: Session, ticket_id: str | None, kind: str, actor: str,
                   at: datetime, **data: Any) -> AuditEvent: ...
        def _transition(self, s: Session, row: TicketRow, event: Event,
                        **values: Any) -> None: ...

    # -- claiming -------------------------------------------------------------------------

    def claim_due(self, *, owner: str, at: datetime, limit: int = 50,
                  lease: timedelta = timedelta(seconds=60)) -> list[Ticket]:
        """Lease up to ``limit`` tickets with work due at ``at`` to ``owner``.

        Due: an open ticket whose ``next_action_at`` or ``expires_at`` has come, or any
        ticket with a delivery retry due. Tickets leased to anybody until after ``at`` are
        left alone.
        """
        retry_due = select(EscalationStepRow.ticket_id).where(
            EscalationStepRow.status == StepStatus.RETRYING, EscalationStepRow.retry_at <= at)
        due = or_(
            and_(TicketRow.status.in_(OPEN_STATUSES),
                 or_(TicketRow.next_action_at <= at, TicketRow.expires_at <= at)),
            TicketRow.id.in_(retry_due),
        )
        free = or_(TicketRow.claimed_until.is_(None), TicketRow.claimed_until < at)
        stmt = (select(TicketRow).where(due, free)
                .order_by(func.coalesce(TicketRow.next_action_at, TicketRow.expires_at))
                .limit(limit).with_for_update(skip_locked=True))
        with self._tx() as s:
            rows = s.execute(stmt).scalars().all()
            if not rows:
                return []
            s.execute(update(TicketRow)
                      .where(TicketRow.id.in_([r.id for r in rows]), free)
                      .values(claimed_by=owner, claimed_until=at + lease),
                      execution_options={"synchronize_session": False})
            return [to_ticket(r) for r in rows]

    def release_claims(self, ticket_ids: Iterable[str], *, owner: str,
                       hold_until: datetime | None = None) -> None:
        """Give leases back. ``hold_until`` keeps tickets out of reach until that instant
        (a sweep passes its own ``at``, so one tick never claims the same ticket twice)."""
        ids = list(ticket_ids)
        if not ids:
            return
        with self._tx() as s:
            s.execute(update(TicketRow)
                      .where(TicketRow.id.in_(ids), TicketRow.claimed_by == owner)
                      .values(claimed_by=None, claimed_until=hold_until),
                      execution_options={"synchronize_session": False})

    # -- recording steps --------------------------------------------------------------------

    def record_steps(self, ticket_id: str, *, owner: str, expected: Cursor, cursor: Cursor,
                     steps: Sequence[StepRecord], expire: bool = False,
                     release_at: datetime | None = None,
                     ) -> tuple[Ticket, dict[tuple[int, int, str], int]] | None:
        """Write ``steps`` and move the ticket to ``cursor``, atomically, once.

        Returns the ticket and the new step ids, or None when this sweeper lost: the ticket
        is no longer open, its cursor moved, or a step already exists. With ``expire`` the
        ticket also expires, guarded by the database's clock (:class:`TransitionRefused`
        while its deadline has not passed). The claim is released, and the ticket kept out
        of reach until ``release_at`` (the sweeper's ``at``: one tick never takes it twice).
        """
        try:
            with self._tx() as s:
                row = self._lock(s, ticket_id)
                if not self._still(row, expected):
                    return None
                now = self._now(s)
                ids = self._insert_steps(s, row, owner, now, steps)
                values: dict[str, Any] = {
                    "escalation_loop": cursor.loop, "escalation_level": cursor.level,
                    "next_action_at": cursor.next_action_at, "claimed_by": None,
                    "claimed_until": release_at}
                if expire:
                    self._expire_row(s, row, now, values)
                else:
                    s.execute(update(TicketRow).where(TicketRow.id == row.id).values(**values),
                              execution_options={"synchronize_session": False})
                s.flush()
                s.expire(row)
                ticket = to_ticket(row)
                # Last, so the audit chain's head is locked only briefly before the commit.
                self._audit_steps(s, ticket_id, owner, now, steps)
                return ticket, ids
        except IntegrityError:
            return None  # another sweeper recorded one of these steps first

    @staticmethod
    def _still(row: TicketRow, expected: Cursor) -> bool:
        return (row.status in OPEN_STATUSES
                and (row.escalation_loop, row.escalation_level, row.next_action_at)
                == (expected.loop, expected.level, expected.next_action_at))

    def _insert_steps(self, s: Session, row: TicketRow, owner: str, now: datetime,
                      steps: Sequence[StepRecord]) -> dict[tuple[int, int, str], int]:
        added = []
        for step in steps:
            added.append(EscalationStepRow(
                ticket_id=row.id, loop=step.loop, level=step.level, step=step.step,
                kind=step.kind, due_at=step.due_at, recorded_at=now, owner=owner,
                status=step.status, targets=list(step.targets), pending=[], attempts=1))
            s.add(added[-1])
        s.flush()  # the unique key is checked here
        return {(r.loop, r.level, r.step): r.id for r in added}

    def _audit_steps(self, s: Session, ticket_id: str, owner: str, now: datetime,
                     steps: Sequence[StepRecord]) -> None:
        for step in steps:
            if step.audit_kind is not None:
                self._audit(s, ticket_id, step.audit_kind, SWEEP_ACTOR, now, loop=step.loop,
                            level=step.level, step=step.step, due_at=step.due_at.isoformat(),
                            sweeper=owner, **step.audit_data)

    def _expire_row(self, s: Session, row: TicketRow, now: datetime,
                    values: dict[str, Any]) -> None:
        if now < row.expires_at:
            raise TransitionRefused(row.id, "expire", row.status,
                                    detail=f"its deadline is {row.expires_at.isoformat()}")
        values.update(next_action_at=None, decided_by=SWEEP_ACTOR, decided_at=now)
        self._transition(s, row, Event.EXPIRE, **values)

    # -- deliveries and retries --------------------------------------------------------------

    def finish_steps(self, deliveries: Sequence[Delivery]) -> None:
        """Record how effects went: sent, failed (audited ``delivery_failed``), or retrying."""
        if not deliveries:
            return
        with self._tx() as s:
            now = self._now(s)
            for d in deliveries:
                s.execute(update(EscalationStepRow).where(EscalationStepRow.id == d.step_id)
                          .values(**_outcome(d)),
                          execution_options={"synchronize_session": False})
                for ref in d.messages:
                    s.add(MessageRow(ticket_id=d.ticket_id, role=ref.role, channel=ref.channel,
                                     ts=ref.ts, user=ref.user, at=now))
            s.flush()
            # The audit chain's head is the last lock every writer takes: no lock cycles.
            for d in deliveries:
                for target, error in d.failed:
                    self._audit(s, d.ticket_id, "delivery_failed", SWEEP_ACTOR, now,
                                step_id=d.step_id, target=target, error=error,
                                attempt=d.attempt, will_retry=target in d.retry)

    def due_retries(self, ticket_id: str, at: datetime) -> list[EscalationStep]:
        with self._tx(write=False) as s:
            rows = s.execute(select(EscalationStepRow).where(
                EscalationStepRow.ticket_id == ticket_id,
                EscalationStepRow.status == StepStatus.RETRYING,
                EscalationStepRow.retry_at <= at).order_by(EscalationStepRow.id)).scalars()
            return [_to_step(r) for r in rows]

    def begin_retry(self, step_id: int, *, attempts: int, abandon: bool = False) -> bool:
        """Take a due retry (compare-and-set on its attempt count); False if taken already.
        ``abandon`` drops it instead (the ticket was decided meanwhile)."""
        status = StepStatus.ABANDONED if abandon else StepStatus.SENDING
        with self._tx() as s:
            result = s.execute(
                update(EscalationStepRow).where(
                    EscalationStepRow.id == step_id, EscalationStepRow.attempts == attempts,
                    EscalationStepRow.status == StepStatus.RETRYING)
                .values(status=status, attempts=attempts + (0 if abandon else 1),
                        retry_at=None),
                execution_options={"synchronize_session": False})
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    # -- reading ----------------------------------------------------------------------------

    def escalation_steps(self, ticket_id: str) -> list[EscalationStep]:
        with self._tx(write=False) as s:
            rows = s.execute(select(EscalationStepRow)
                             .where(EscalationStepRow.ticket_id == ticket_id)
                             .order_by(EscalationStepRow.id)).scalars()
            return [_to_step(r) for r in rows]

    def oncall_targets(self, ticket_id: str) -> set[str]:
        """Everyone the chain DM'd about this ticket: they may decide it like its approvers.
        Recorded before the DMs go out, so a DM'd person is authorised when they click."""
        with self._tx(write=False) as s:
            targets = s.execute(select(EscalationStepRow.targets).where(
                EscalationStepRow.ticket_id == ticket_id, EscalationStepRow.kind == "notify",
                EscalationStepRow.status != StepStatus.SKIPPED)).scalars()
            return {t for group in targets for t in group}

    def step_counts(self) -> dict[tuple[str, str], int]:
        """``(kind, status) → count`` over all tickets (metrics, tests)."""
        with self._tx(write=False) as s:
            rows = s.execute(select(EscalationStepRow.kind, EscalationStepRow.status,
                                    func.count()).group_by(EscalationStepRow.kind,
                                                           EscalationStepRow.status))
            return {(kind, status): int(n) for kind, status, n in rows}


def _outcome(d: Delivery) -> dict[str, Any]:
    if d.retry:
        return {"status": StepStatus.RETRYING, "pending": list(d.retry),
                "retry_at": d.retry_at, "error": d.failed[0][1] if d.failed else None}
    if d.failed:
        return {"status": StepStatus.FAILED, "pending": [t for t, _ in d.failed],
                "retry_at": None, "error": "; ".join(f"{t}: {e}" for t, e in d.failed)[:2000]}
    return {"status": StepStatus.SENT, "pending": [], "retry_at": None}


def _to_step(row: EscalationStepRow) -> EscalationStep:
    return EscalationStep(
        id=row.id, ticket_id=row.ticket_id, loop=row.loop, level=row.level, step=row.step,
        kind=row.kind, due_at=row.due_at, recorded_at=row.recorded_at, owner=row.owner,
        status=row.status, targets=tuple(row.targets), pending=tuple(row.pending),
        attempts=row.attempts, retry_at=row.retry_at, error=row.error)
