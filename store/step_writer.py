"""Recording a whole claimed batch of escalation steps in one transaction.

A sweep tick claims tickets in batches. Recording each ticket in its own transaction cost a
round trip per statement per ticket and an audit append per ticket, which
on PostgreSQL made 1,000 due tickets take seconds. Here one transaction per batch:

1. locks the batch's tickets (id order, so two sweepers never deadlock) and reads only the
   columns that decide whether each plan still holds;
2. inserts every step row in one statement; the unique ``(ticket, epoch, loop, level, step)``
   key still guards against a second sweeper (the caller retries the batch ticket by ticket);
3. moves the cursors in one executemany, and expires the tickets whose plans say so through
   the state machine's guarded UPDATE;
4. appends all audit events last, to each ticket's chain (the rows locked in 1).

Nothing is read back except expired tickets: the other tickets are the claimed ones with
their new cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from store import audit
from store.convert import to_ticket
from store.db import db_now
from store.models import Ticket
from store.states import Event
from store.steps import (
    OPEN_STATUSES,
    REFUSED,
    SWEEP_ACTOR,
    Cursor,
    Delivery,
    Recorded,
    Refused,
    StepPlan,
    StepStatus,
    outcome_values,
)
from store.tables import EscalationStepRow, MessageRow, TicketRow
from store.transition import transition

Outcome = Recorded | Refused | None
_T = cast(Table, TicketRow.__table__)
_STEPS = cast(Table, EscalationStepRow.__table__)


def write(s: Session, plans: Sequence[StepPlan], *, owner: str, release_at: datetime | None,
          audit_key: bytes | None) -> dict[str, Outcome]:
    """Record ``plans`` in the session's transaction (see the module's docstring)."""
    current = _lock(s, [p.ticket.id for p in plans])
    now = s.execute(select(db_now())).scalar_one()
    out: dict[str, Outcome] = {}
    winners: list[StepPlan] = []
    for plan in plans:
        row = current.get(plan.ticket.id)
        if row is None or not _still(row, plan.ticket):
            out[plan.ticket.id] = None
        elif plan.expire and now < row.expires_at:
            out[plan.ticket.id] = REFUSED
        else:
            winners.append(plan)
    ids = _insert_steps(s, winners, owner, now)
    moving = [p for p in winners if not p.expire]
    _move(s, moving, release_at)
    for plan in winners:
        if plan.expire:
            _expire(s, current[plan.ticket.id], plan, now, release_at)
    expired = _reload(s, [p.ticket.id for p in winners if p.expire])
    for plan in winners:
        ticket = expired.get(plan.ticket.id) or plan.ticket.model_copy(update={
            "escalation_loop": plan.cursor.loop, "escalation_level": plan.cursor.level,
            "next_action_at": plan.cursor.next_action_at})
        out[plan.ticket.id] = Recorded(ticket, ids.get(plan.ticket.id, {}))
    audit.append_many(s, _events(winners, owner), at=now, key=audit_key)
    return out


def _lock(s: Session, ids: list[str]) -> dict[str, Any]:
    rows = s.execute(
        select(_T.c.id, _T.c.status, _T.c.version, _T.c.escalation_epoch,
               _T.c.escalation_loop, _T.c.escalation_level, _T.c.next_action_at,
               _T.c.expires_at, _T.c.decided_by, _T.c.decided_at)
        .where(_T.c.id.in_(sorted(ids))).order_by(_T.c.id).with_for_update()).all()
    return {r.id: r for r in rows}


def lock_rows(s: Session, ids: list[str]) -> None:
    """Lock these tickets' rows, in id order (as :func:`_lock` does)."""
    if ids:
        s.execute(select(_T.c.id).where(_T.c.id.in_(sorted(ids))).order_by(_T.c.id)
                  .with_for_update())


def _still(row: Row[Any], claimed: Ticket) -> bool:
    """Is the ticket still open, on the route and at the cursor the sweeper planned from?"""
    expected = Cursor.of(claimed)
    return (row.status in OPEN_STATUSES and row.escalation_epoch == claimed.escalation_epoch
            and (row.escalation_loop, row.escalation_level, row.next_action_at)
            == (expected.loop, expected.level, expected.next_action_at))


def _insert_steps(s: Session, plans: Sequence[StepPlan], owner: str,
                  now: datetime) -> dict[str, dict[tuple[int, int, str], int]]:
    params = [{"ticket_id": p.ticket.id, "epoch": p.ticket.escalation_epoch, "loop": st.loop,
               "level": st.level, "step": st.step, "kind": st.kind, "due_at": st.due_at,
               "recorded_at": now, "owner": owner,
               "status": st.status, "targets": list(st.targets), "pending": [], "attempts": 1}
              for p in plans for st in p.steps]
    if not params:
        return {}
    rows = s.execute(insert(_STEPS).returning(_STEPS.c.id, _STEPS.c.ticket_id, _STEPS.c.loop,
                                              _STEPS.c.level, _STEPS.c.step), params)
    out: dict[str, dict[tuple[int, int, str], int]] = {}
    for r in rows:
        out.setdefault(r.ticket_id, {})[(r.loop, r.level, r.step)] = r.id
    return out


def _move(s: Session, plans: Sequence[StepPlan], release_at: datetime | None) -> None:
    if not plans:
        return
    stmt = (update(_T).where(_T.c.id == bindparam("b_id"))
            .values(escalation_loop=bindparam("b_loop"), escalation_level=bindparam("b_level"),
                    next_action_at=bindparam("b_next"), claimed_by=None,
                    claimed_until=release_at))
    s.execute(stmt, [{"b_id": p.ticket.id, "b_loop": p.cursor.loop,
                      "b_level": p.cursor.level, "b_next": p.cursor.next_action_at}
                     for p in plans])


def _expire(s: Session, row: Row[Any], plan: StepPlan, now: datetime,
            release_at: datetime | None) -> None:
    """The state machine's EXPIRE, guarded like every transition (the row is locked)."""
    transition(s, row, Event.EXPIRE, escalation_loop=plan.cursor.loop,
               escalation_level=plan.cursor.level, next_action_at=None,
               decided_by=SWEEP_ACTOR, decided_at=now, claimed_by=None,
               claimed_until=release_at)


def _reload(s: Session, ids: list[str]) -> dict[str, Any]:
    if not ids:
        return {}
    rows = s.execute(select(TicketRow).where(TicketRow.id.in_(ids))).scalars()
    return {r.id: to_ticket(r) for r in rows}


def _events(plans: Sequence[StepPlan], owner: str) -> list[audit.PendingEvent]:
    return [audit.PendingEvent(p.ticket.id, st.audit_kind, SWEEP_ACTOR, {
                "loop": st.loop, "level": st.level, "step": st.step,
                "due_at": st.due_at.isoformat(), "sweeper": owner, **st.audit_data})
            for p in plans for st in p.steps if st.audit_kind is not None]


def finish(s: Session, deliveries: Sequence[Delivery], now: datetime) -> None:
    """Step outcomes and the DMs posted: one UPDATE for all the plain successes (the usual
    case), one executemany for the rest, one INSERT for the messages."""
    sent = [d.step_id for d in deliveries if not d.failed and not d.retry]
    if sent:
        s.execute(update(_STEPS).where(_STEPS.c.id.in_(sent))
                  .values(status=StepStatus.SENT, pending=[], retry_at=None))
    others = [{"b_id": d.step_id, **{f"b_{k}": v for k, v in outcome_values(d).items()}}
              for d in deliveries if d.failed or d.retry]
    if others:
        s.execute(update(_STEPS).where(_STEPS.c.id == bindparam("b_id"))
                  .values(status=bindparam("b_status"), pending=bindparam("b_pending"),
                          retry_at=bindparam("b_retry_at"), error=bindparam("b_error")),
                  others)
    messages = [{"ticket_id": d.ticket_id, "role": ref.role, "channel": ref.channel,
                 "ts": ref.ts, "user": ref.user, "at": now}
                for d in deliveries for ref in d.messages]
    if messages:
        s.execute(insert(cast(Table, MessageRow.__table__)), messages)
