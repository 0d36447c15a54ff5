"""The click inbox (mixed into ``Ledger``): no acknowledged click is ever lost.

A reviewer's decision click is written here, in one small transaction, *before* Slack gets
its ack. From then on the row ends in exactly one of two ways:

- ``decided``: in the same transaction as the decision it caused
  (:meth:`Ledger.record_decision` with ``click_id``), so a decision and the end of its click
  commit together or not at all;
- ``told``: the clicker was sent a message saying the click did not count, and why
  (refused, expired meanwhile, already decided, or the database failed for too long).

``pending`` rows are leased (``claimed_by``/``claimed_until``) to one processor at a time: the
replica that received the click first, then anybody once the lease has run out (a replica
killed after the ack, a failed processing). Claims take rows with ``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL and inside SQLite's single writer, then compare-and-set the lease, so
replicas share the replay without waiting on each other. Leases only spread work: a row can
only be ``decided`` once (the decision's transaction locks it and checks it is pending).

A click counts only if it is recorded within ``max_age`` of being received, judged by the
database's clock in the deciding transaction. That is what lets a processor that cannot reach
the database for that long tell the clicker "it did not count" and be right, whatever a later
replay finds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from store.db import Transactions, db_now
from store.errors import ClickSettled, ClickTooOld
from store.models import DecisionKind
from store.tables import ClickRow

#: How long a receiving replica has to process its click before others may replay it.
CLICK_LEASE = timedelta(seconds=5)
#: A click not recorded within this long of its receipt never counts (its clicker is told).
CLICK_MAX_AGE = timedelta(minutes=2)
_TABLE = cast(Table, ClickRow.__table__)
_RECEIVE = (insert(_TABLE).values(received_at=db_now())
            .returning(_TABLE.c.id, _TABLE.c.received_at, sort_by_parameter_order=True))
T = TypeVar("T")


def _claimable(now: datetime, lease: timedelta) -> Any:
    """Nobody holds it: its receiver's lease (from its receipt) or its last claim ran out."""
    return or_(and_(ClickRow.claimed_until.is_(None), ClickRow.received_at < now - lease),
               ClickRow.claimed_until < now)


class ClickStatus(StrEnum):
    PENDING = "pending"
    DECIDED = "decided"
    TOLD = "told"


_C = _TABLE.c
_SETTLE = (update(_TABLE)
           .where(_C.id == bindparam("cid"), _C.status == ClickStatus.PENDING.value,
                  _C.received_at >= bindparam("oldest", type_=_C.received_at.type))
           .values(status=ClickStatus.DECIDED.value, decision_id=bindparam("decision"),
                   finished_at=bindparam("now", type_=_C.finished_at.type))
           .returning(_C.id))


class NewClick(BaseModel):
    """What a decision click carries: enough to decide it, or to tell the clicker why not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: str
    user: str
    kind: DecisionKind
    reason: str | None = None
    args: dict[str, Any] | None = None
    shown_version: int | None = None
    """The ticket version the clicked card or form showed."""
    channel: str | None = None
    message_ts: str | None = None
    response_url: str | None = None
    grant_spec: dict[str, Any] | None = None
    """An approval that also makes a standing grant (``store.grants.GrantSpec`` as JSON)."""


class Click(NewClick):
    id: int
    received_at: datetime
    status: ClickStatus
    attempts: int = 0


def to_click(row: ClickRow) -> Click:
    return Click(id=row.id, ticket_id=row.ticket_id, user=row.user,
                 kind=DecisionKind(row.kind), reason=row.reason, args=row.args,
                 shown_version=row.shown_version, channel=row.channel,
                 message_ts=row.message_ts, response_url=row.response_url,
                 grant_spec=row.grant_spec, received_at=row.received_at,
                 status=ClickStatus(row.status),
                 attempts=row.attempts)


def settle(s: Session, click_id: int, now: datetime, decision_id: int,
           max_age: timedelta) -> None:
    """End a click as ``decided`` inside its decision's transaction (after the ticket lock):
    one guarded UPDATE (still pending, received within ``max_age`` of ``now``), which takes
    the click's row lock and re-checks both on PostgreSQL if another writer held it."""
    done = s.execute(_SETTLE, {"cid": click_id, "oldest": now - max_age, "now": now,
                               "decision": decision_id}).first()
    if done is not None:
        return
    found = s.execute(select(ClickRow.status).where(ClickRow.id == click_id)).first()
    if found is None or found.status != ClickStatus.PENDING:
        raise ClickSettled(click_id)
    raise ClickTooOld(click_id, max_age)


class InboxMixin:
    """The inbox's half of the ledger. ``Ledger`` supplies the plumbing below."""

    if TYPE_CHECKING:
        _tx: Transactions
        def _quick(self, write: Callable[[Connection], T]) -> T: ...
        def _now(self, session: Session) -> datetime: ...

    def receive_click(self, new: NewClick, *, owner: str) -> Click:
        return self.receive_clicks([new], owner=owner)[0]

    def receive_clicks(self, new: Sequence[NewClick], *, owner: str) -> list[Click]:
        """Write clicks before their acks: one statement, one transaction, received now by
        the database's clock and held by ``owner`` until their lease runs out. Bounded in
        time: a database that cannot take the write within about a second raises
        ``StoreUnavailable``."""
        rows = [{**n.model_dump(mode="json"), "attempts": 0, "claimed_by": owner,
                 "status": ClickStatus.PENDING.value} for n in new]
        written = self._quick(lambda c: c.execute(_RECEIVE, rows).all())
        return [Click(**n.model_dump(), id=i, received_at=at, status=ClickStatus.PENDING)
                for n, (i, at) in zip(new, written, strict=True)]

    def take_click(self, click_id: int, *, owner: str,
                   lease: timedelta = CLICK_LEASE) -> Click | None:
        """Start processing a click ``owner`` holds (or whose lease ran out); None when it
        ended already or somebody else holds it now."""
        with self._tx(urgent=True) as s:
            now = self._now(s)
            row = s.execute(select(ClickRow).where(
                ClickRow.id == click_id, ClickRow.status == ClickStatus.PENDING,
                or_(ClickRow.claimed_by == owner, _claimable(now, lease)))
                .with_for_update()).scalar_one_or_none()
            if row is None:
                return None
            row.claimed_by, row.claimed_until = owner, now + lease
            row.attempts += 1
            s.flush()
            return to_click(row)

    def claim_clicks(self, *, owner: str, lease: timedelta = CLICK_LEASE,
                     limit: int = 50) -> list[Click]:
        """Lease up to ``limit`` pending clicks whose lease has run out (the replay)."""
        with self._tx() as s:
            now = self._now(s)
            rows = s.execute(select(ClickRow).where(
                ClickRow.status == ClickStatus.PENDING, _claimable(now, lease))
                .order_by(ClickRow.id).limit(limit)
                .with_for_update(skip_locked=True)).scalars().all()
            for row in rows:
                row.claimed_by, row.claimed_until = owner, now + lease
                row.attempts += 1
            s.flush()
            return [to_click(r) for r in rows]

    def tell_click(self, click_id: int, note: str) -> bool:
        """End a pending click as ``told`` (its clicker got ``note``); False if it had ended."""
        with self._tx(urgent=True) as s:
            now = self._now(s)
            result = s.execute(
                update(ClickRow).where(ClickRow.id == click_id,
                                       ClickRow.status == ClickStatus.PENDING)
                .values(status=ClickStatus.TOLD, finished_at=now, note=note[:2000]),
                execution_options={"synchronize_session": False})
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def get_click(self, click_id: int) -> Click:
        with self._tx(write=False) as s:
            row = s.get(ClickRow, click_id)
            if row is None:
                raise ClickSettled(click_id)
            return to_click(row)

    def clicks(self, status: ClickStatus | None = None) -> list[Click]:
        """Every click, oldest first (operators, tests)."""
        stmt = select(ClickRow).order_by(ClickRow.id)
        if status is not None:
            stmt = stmt.where(ClickRow.status == status)
        with self._tx(write=False) as s:
            return [to_click(r) for r in s.execute(stmt).scalars()]
