"""Executions that never reported back (mixed into ``Ledger``).

``start_execution`` gives the executor a lease (``execution_lease_until``). An executor
killed mid-run leaves the ticket ``executing`` with nobody to finish it; once the lease has
run out, the sweep moves it to ``outcome_unknown`` (:meth:`ExecutionMixin.lose_executions`),
audited, so people can see it. The action may or may not have happened, so signoff never runs
it again: a human checks and resolves it (:meth:`ExecutionMixin.resolve_outcome`, ``signoff
tickets resolve``), and that is audited with who did it. A late report from the executor
itself also settles it (``finish_execution``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from store.convert import to_ticket
from store.db import Transactions
from store.errors import TransitionRefused
from store.models import AuditEvent, Ticket, TicketStatus
from store.states import Event
from store.tables import MessageData, TicketRow
from store.tickets import SYSTEM_ACTOR

#: How long an executor has to report the outcome of an approved action it started.
EXECUTION_LEASE = timedelta(minutes=15)


class ExecutionMixin:
    """The lost-execution half of the ledger. ``Ledger`` supplies the plumbing below."""

    if TYPE_CHECKING:
        _tx: Transactions
        def _now(self, session: Session) -> datetime: ...
        def _lock(self, session: Session, ticket_id: str) -> TicketRow: ...
        def _transition(self, s: Session, row: TicketRow, event: Event,
                        **values: Any) -> None: ...
        def _messages(self, s: Session, ticket_id: str) -> Sequence[MessageData]: ...
        def _audit(self, s: Session, ticket_id: str | None, kind: str, actor: str,
                   at: datetime, **data: Any) -> AuditEvent: ...

    def lose_executions(self, *, at: datetime, limit: int = 50,
                        actor: str = SYSTEM_ACTOR) -> list[Ticket]:
        """Move up to ``limit`` tickets whose execution lease ended before ``at`` to
        ``outcome_unknown`` (one transaction; rows other sweepers hold are skipped). A ticket
        executing with no lease at all started before leases existed: it is lost too."""
        with self._tx() as s:
            rows = s.execute(select(TicketRow).where(
                TicketRow.status == TicketStatus.EXECUTING.value,
                or_(TicketRow.execution_lease_until < at,
                    TicketRow.execution_lease_until.is_(None)))
                .order_by(TicketRow.execution_lease_until).limit(limit)
                .with_for_update(skip_locked=True)).scalars().all()
            now = self._now(s)
            return [self._lose(s, row, now, actor) for row in rows]

    def lose_execution(self, ticket_id: str, *, at: datetime,
                       actor: str = SYSTEM_ACTOR) -> Ticket:
        """:meth:`lose_executions` for one ticket; refused while its lease still runs."""
        with self._tx() as s:
            row = self._lock(s, ticket_id)
            lease = row.execution_lease_until
            if row.status == TicketStatus.EXECUTING and lease is not None and lease >= at:
                raise TransitionRefused(row.id, Event.LOSE_EXECUTION.value, row.status,
                                        detail=f"its lease runs until {lease.isoformat()}")
            return self._lose(s, row, self._now(s), actor)

    def _lose(self, s: Session, row: TicketRow, now: datetime, actor: str) -> Ticket:
        lease_until = row.execution_lease_until
        self._transition(s, row, Event.LOSE_EXECUTION)
        self._audit(s, row.id, "outcome_unknown", actor, now,
                    lease_until=lease_until.isoformat() if lease_until else None,
                    note="the execution never reported an outcome; it will not run again; "
                         "a human must resolve it")
        return to_ticket(row, self._messages(s, row.id))

    def resolve_outcome(self, ticket_id: str, *, ok: bool, actor: str, note: str) -> Ticket:
        """A human settles an ``outcome_unknown`` ticket: it did run (``ok``) or it did not
        (or failed). Only from ``outcome_unknown``; audited with ``actor`` and ``note``."""
        if not actor.strip() or not note.strip():
            raise ValueError("resolving an unknown outcome needs who (actor) and a note")
        with self._tx() as s:  # the state machine allows it from outcome_unknown only
            row = self._lock(s, ticket_id)
            now = self._now(s)
            event = Event.RESOLVE_OK if ok else Event.RESOLVE_FAILED
            self._transition(s, row, event, outcome_ok=ok, outcome_at=now,
                             outcome_summary=note if ok else None,
                             outcome_error=None if ok else note)
            self._audit(s, ticket_id, "outcome_resolved", actor, now,
                        outcome="succeeded" if ok else "failed", note=note)
            return to_ticket(row, self._messages(s, ticket_id))
