"""The state machine's guarded UPDATE, shared by every operation that changes a status."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from store.changes import changed
from store.db import db_now
from store.errors import AlreadyDecided, DeadlinePassed, TransitionRefused
from store.models import TicketStatus
from store.states import DECISION_EVENTS, Event, next_status
from store.tables import TicketRow


class TicketState(Protocol):
    """What a transition reads of the locked row: a full ``TicketRow`` or selected columns."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def decided_by(self) -> str | None: ...
    @property
    def decided_at(self) -> datetime | None: ...


def transition(s: Session, row: TicketState, event: Event, **values: Any) -> None:
    """The guarded UPDATE of a locked row. Zero rows means the guard failed: nothing changed."""
    new = next_status(TicketStatus(row.status), event)
    if new is None:
        raise transition_refused(row, event)
    stmt = update(TicketRow).where(
        TicketRow.id == row.id,
        TicketRow.status == row.status,
        TicketRow.version == row.version,
    )
    if event in DECISION_EVENTS:
        stmt = stmt.where(TicketRow.expires_at > db_now())
    result = s.execute(
        stmt.values(status=new.value, version=row.version + 1, **values),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # The row is locked, so only the deadline guard can have failed.
        raise DeadlinePassed(row.id, event.value, row.status,
                             detail=f"its deadline {row.expires_at.isoformat()} has passed")
    changed(s, row.id)


def transition_refused(row: TicketState, event: Event) -> TransitionRefused:
    cls = AlreadyDecided if not TicketStatus(row.status).is_open else TransitionRefused
    return cls(row.id, event.value, row.status, decided_by=row.decided_by,
               decided_at=row.decided_at)
