"""The state machine's guarded UPDATE, shared by every operation that changes a status."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Row, Table, Update, bindparam, update
from sqlalchemy.orm import Session

from store.changes import changed
from store.db import db_now
from store.errors import AlreadyDecided, DeadlinePassed, TransitionRefused
from store.models import TicketStatus
from store.states import DECISION_EVENTS, Event, next_status
from store.tables import TicketRow

TICKETS = cast(Table, TicketRow.__table__)


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
    result = s.execute(_guarded(row, event, values),
                       execution_options={"synchronize_session": False})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _deadline_passed(row, event)
    changed(s, row.id)


def guarded_update(s: Session, row: TicketState, event: Event, **values: Any) -> Row[Any]:
    """:func:`transition`, returning the row as the UPDATE left it (no second read).
    ``values`` are plain values (no SQL expressions): the statement is built once per set
    of columns and event kind, and reused with bound parameters."""
    new = next_status(TicketStatus(row.status), event)
    if new is None:
        raise transition_refused(row, event)
    stmt = _returning(event in DECISION_EVENTS, tuple(sorted(values)))
    params = {f"v_{k}": v for k, v in values.items()}
    params.update(g_id=row.id, g_status=row.status, g_version=row.version,
                  g_new=new.value, g_next=row.version + 1)
    after = s.connection().execute(stmt, params).one_or_none()
    if after is None:
        raise _deadline_passed(row, event)
    changed(s, row.id)
    return after


_BUILT: dict[tuple[bool, tuple[str, ...]], Update] = {}


def _returning(deadline: bool, columns: tuple[str, ...]) -> Update:
    """The guarded UPDATE … RETURNING for these columns (built once: building a statement
    and its cache key costs more than running it on SQLite)."""
    stmt = _BUILT.get((deadline, columns))
    if stmt is None:
        t = TICKETS.c
        stmt = update(TICKETS).where(t.id == bindparam("g_id"),
                                     t.status == bindparam("g_status"),
                                     t.version == bindparam("g_version"))
        if deadline:
            stmt = stmt.where(t.expires_at > db_now())
        stmt = stmt.values(status=bindparam("g_new"), version=bindparam("g_next"),
                           **{c: bindparam(f"v_{c}", type_=t[c].type) for c in columns})
        stmt = _BUILT.setdefault((deadline, columns), stmt.returning(*TICKETS.c))
    return stmt


def _guarded(row: TicketState, event: Event, values: dict[str, Any]) -> Update:
    new = next_status(TicketStatus(row.status), event)
    if new is None:
        raise transition_refused(row, event)
    stmt = update(TICKETS).where(
        TICKETS.c.id == row.id,
        TICKETS.c.status == row.status,
        TICKETS.c.version == row.version,
    )
    if event in DECISION_EVENTS:
        stmt = stmt.where(TICKETS.c.expires_at > db_now())
    return stmt.values(status=new.value, version=row.version + 1, **values)


def _deadline_passed(row: TicketState, event: Event) -> DeadlinePassed:
    # The row is locked, so only the deadline guard can have failed.
    return DeadlinePassed(row.id, event.value, row.status,
                          detail=f"its deadline {row.expires_at.isoformat()} has passed")


def transition_refused(row: TicketState, event: Event) -> TransitionRefused:
    cls = AlreadyDecided if not TicketStatus(row.status).is_open else TransitionRefused
    return cls(row.id, event.value, row.status, decided_by=row.decided_by,
               decided_at=row.decided_at)
