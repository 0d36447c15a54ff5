"""The sweep's store: claiming due tickets and recording escalation steps exactly once.

:class:`SweepStore` works on a :class:`~store.ledger.Ledger`'s database; the escalation
engine receives it through the protocol it declares (``escalation.sweep_store``).

Any number of sweepers (threads, processes, replicas) may run at once:

- **Claims** are a lease: ``claimed_by``/``claimed_until`` set by a compare-and-set on
  tickets whose lease is free, after ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (so
  sweepers take disjoint batches without waiting) and inside SQLite's single writer. A crashed
  sweeper's claims fall back to the pool when the lease runs out. Leases only spread work;
  correctness never depends on them.
- **Steps** are rows of ``escalation_steps`` with a unique
  ``(ticket, epoch, loop, level, step)``. :meth:`SweepStore.record_batch` writes a claimed
  batch's step rows, their audit events and the tickets' new cursors in one transaction,
  each ticket only if its cursor is still the one the sweeper read. Two sweepers that raced
  on the same step cannot both commit it: the loser gets no step and performs no effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, or_, select, text, union, update
from sqlalchemy.exc import IntegrityError

from store import audit, audit_seal, step_writer, tickets
from store.batch_tables import BatchMemberRow, BatchRow
from store.convert import to_step, to_ticket
from store.db import Transactions, now_of
from store.ledger import Ledger
from store.models import Ticket
from store.steps import (
    OPEN_STATUSES,
    SWEEP_ACTOR,
    Delivery,
    EscalationStep,
    Recorded,
    Refused,
    StepPlan,
    StepStatus,
)
from store.tables import SHOWN_BEHIND, EscalationStepRow, TicketRow


class SweepStore:
    """The sweep's reads and writes, on the ledger's database. Thread-safe."""

    def __init__(self, ledger: Ledger) -> None:
        self._tx: Transactions = ledger.transactions
        self._audit_key = ledger.audit_key
        self.db_now = ledger.db_now
        self.lose_executions = ledger.lose_executions

    def seal_audit(self) -> list[int]:
        """Seal committed audit events into the global chain (the scheduler's seal job)."""
        return audit_seal.seal_pending(self._tx, key=self._audit_key)

    # -- claiming -------------------------------------------------------------------------

    def claim_due(self, *, owner: str, at: datetime, limit: int = 50,
                  lease: timedelta = timedelta(seconds=60)) -> list[Ticket]:
        """Lease up to ``limit`` tickets with work due at ``at`` to ``owner``.

        Due: an open ticket whose ``next_action_at`` or ``expires_at`` has come, or any
        ticket with a delivery retry due. Tickets leased to anybody until after ``at`` are
        left alone. Earliest work first.
        """
        with self._tx() as s:
            rows = s.execute(_claimable(at, limit)).scalars().all()
            if not rows:
                return []
            s.execute(update(TicketRow)
                      .where(TicketRow.id.in_([r.id for r in rows]), _free(at))
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

    def record_batch(self, plans: Sequence[StepPlan], *, owner: str,
                     release_at: datetime | None = None) -> dict[str, Recorded | Refused | None]:
        """Write each plan's steps and move its ticket to the plan's cursor, once.

        One transaction for the whole batch (see :mod:`store.step_writer`). Per ticket the
        answer is :class:`Recorded`; None when this sweeper lost (the ticket is no longer
        open, its cursor moved, or a step already exists); or ``REFUSED`` when the plan
        expires the ticket and the database's clock says its deadline has not passed.
        Recorded tickets' claims are released and kept out of reach until ``release_at``
        (the sweeper's ``at``: one tick never takes a ticket twice).
        """
        if not plans:
            return {}
        try:
            with self._tx() as s:
                return step_writer.write(s, plans, owner=owner, release_at=release_at,
                                         audit_key=self._audit_key)
        except IntegrityError:
            if len(plans) == 1:
                return {plans[0].ticket.id: None}  # another sweeper recorded a step first
        # Somebody else recorded a step of one of these tickets: find which, one by one.
        out: dict[str, Recorded | Refused | None] = {}
        for plan in plans:
            out.update(self.record_batch([plan], owner=owner, release_at=release_at))
        return out

    # -- deliveries and retries --------------------------------------------------------------

    def finish_steps(self, deliveries: Sequence[Delivery]) -> None:
        """Record how effects went: sent, failed (audited ``delivery_failed``), or retrying.
        One transaction and a handful of statements for the whole batch."""
        if not deliveries:
            return
        failed = sorted({d.ticket_id for d in deliveries if d.failed})
        with self._tx() as s:
            # Each audited ticket's row lock first (id order, as every batch takes them):
            # one writer at a time on each ticket's audit chain, and no lock cycles.
            step_writer.lock_rows(s, failed)
            now = now_of(s)
            step_writer.finish(s, deliveries, now)
            audit.append_many(s, [
                audit.PendingEvent(d.ticket_id, "delivery_failed", SWEEP_ACTOR, {
                    "step_id": d.step_id, "target": target, "error": error,
                    "attempt": d.attempt, "will_retry": target in d.retry})
                for d in deliveries for target, error in d.failed], at=now, key=self._audit_key)

    def batch_cards(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        """The batch of each of these tickets whose card is still its batch's card (one
        query): the tickets whose thread posts the sweep may share."""
        if not ticket_ids:
            return {}
        with self._tx(write=False) as s:
            rows = s.execute(select(BatchMemberRow.ticket_id, BatchMemberRow.batch_id)
                             .join(BatchRow, BatchRow.id == BatchMemberRow.batch_id)
                             .join(TicketRow, TicketRow.id == BatchMemberRow.ticket_id)
                             .where(BatchMemberRow.ticket_id.in_(list(ticket_ids)),
                                    TicketRow.card_channel == BatchRow.card_channel,
                                    TicketRow.card_ts == BatchRow.card_ts)).all()
        return {str(r.ticket_id): str(r.batch_id) for r in rows}

    def due_retries(self, ticket_ids: Sequence[str],
                    at: datetime) -> dict[str, list[EscalationStep]]:
        """Delivery retries due at ``at`` for these tickets, oldest first (one query)."""
        if not ticket_ids:
            return {}
        with self._tx(write=False) as s:
            rows = s.execute(select(EscalationStepRow).where(
                EscalationStepRow.ticket_id.in_(list(ticket_ids)),
                EscalationStepRow.status == StepStatus.RETRYING,
                EscalationStepRow.retry_at <= at).order_by(EscalationStepRow.id)).scalars()
            out: dict[str, list[EscalationStep]] = {}
            for row in rows:
                out.setdefault(row.ticket_id, []).append(to_step(row))
            return out

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

    # -- surfaces behind their ticket -------------------------------------------------------

    def mark_shown(self, ticket_id: str, version: int) -> bool:
        """See :meth:`store.ledger.Ledger.mark_shown`."""
        with self._tx.write() as conn:
            return tickets.mark_shown(conn, ticket_id, version)

    def behind_surfaces(self, *, limit: int = 50) -> list[Ticket]:
        """Tickets whose card or DM copies show an older version than the ticket's (a failed
        ``chat.update``, or a crash between a decision and its update), oldest first. Read
        through a partial index that holds only those tickets."""
        with self._tx(write=False) as s:
            rows = s.execute(select(TicketRow).where(text(SHOWN_BEHIND))
                             .order_by(TicketRow.id).limit(limit)).scalars()
            return [to_ticket(r) for r in rows]

    # -- reading ----------------------------------------------------------------------------

    def escalation_steps(self, ticket_id: str) -> list[EscalationStep]:
        with self._tx(write=False) as s:
            rows = s.execute(select(EscalationStepRow)
                             .where(EscalationStepRow.ticket_id == ticket_id)
                             .order_by(EscalationStepRow.id)).scalars()
            return [to_step(r) for r in rows]

    def oncall_targets(self, ticket_id: str) -> set[str]:
        """Everyone the chain DM'd about this ticket: they may decide it like its approvers.
        Recorded before the DMs go out, so a DM'd person is authorised when they click.
        Only the current route's chain counts: an edit that re-routed the ticket to stricter
        reviewers took the authority of the old route's on-call people away."""
        with self._tx.read() as conn:  # every click asks: no ORM session
            targets = conn.execute(_NOTIFIED, {"tid": ticket_id}).scalars().all()
        return {t for group in targets for t in group}

    def step_counts(self) -> dict[tuple[str, str], int]:
        """``(kind, status) → count`` over all tickets (metrics, tests)."""
        with self._tx(write=False) as s:
            rows = s.execute(select(EscalationStepRow.kind, EscalationStepRow.status,
                                    func.count()).group_by(EscalationStepRow.kind,
                                                           EscalationStepRow.status))
            return {(kind, status): int(n) for kind, status, n in rows}


_STEPS = cast(Table, EscalationStepRow.__table__).c
_NOTIFIED = select(_STEPS.targets).where(
    _STEPS.ticket_id == bindparam("tid"), _STEPS.kind == "notify",
    _STEPS.status != StepStatus.SKIPPED,
    _STEPS.epoch == select(TicketRow.escalation_epoch)
    .where(TicketRow.id == bindparam("tid")).scalar_subquery())


def _free(at: datetime) -> Any:
    return or_(TicketRow.claimed_until.is_(None), TicketRow.claimed_until < at)


def _claimable(at: datetime, limit: int) -> Select[TicketRow]:
    """The earliest ``limit`` free tickets with work due, locked, skipping locked ones.

    Three searches, each served by its own index and cut at ``limit``: reminders and DMs
    due (``next_action_at``), deadlines passed (``expires_at``), and delivery retries due.
    One OR over all three, ordered by a ``coalesce``, cannot use an index and made
    PostgreSQL read every pending ticket; the union reads only what is due.
    """
    opened = TicketRow.status.in_(OPEN_STATUSES)
    # Candidates are read without locks: take extra, so that other sweepers' fresh claims
    # (locked, skipped below) rarely leave this batch short.
    limit, wanted = 2 * limit, limit
    by_action = (select(TicketRow.id).where(opened, TicketRow.next_action_at <= at, _free(at))
                 .order_by(TicketRow.next_action_at).limit(limit))
    by_deadline = (select(TicketRow.id).where(opened, TicketRow.expires_at <= at, _free(at))
                   .order_by(TicketRow.expires_at).limit(limit))
    by_retry = (select(EscalationStepRow.ticket_id)
                .where(EscalationStepRow.status == StepStatus.RETRYING,
                       EscalationStepRow.retry_at <= at)
                .order_by(EscalationStepRow.retry_at).limit(limit))
    due = union(*(q.subquery().select() for q in (by_action, by_deadline, by_retry))).subquery()
    return (select(TicketRow).where(TicketRow.id.in_(select(due.c[0])), _free(at))
            .order_by(func.coalesce(TicketRow.next_action_at, TicketRow.expires_at),
                      TicketRow.id)
            .limit(wanted).with_for_update(skip_locked=True))
