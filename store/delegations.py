"""Delegations: a reviewer lends their authority to a named person for a period.

A delegation is active from ``starts_at`` until ``ends_at`` unless revoked; every question is
asked at an instant the caller passes in (the clock is read once, at the top). Delegations
are never chained: a delegate acts only with the principal's own authority, so a delegation
from someone who holds authority only by delegation lends nothing. One principal has at most
one delegation at a time, and nobody delegates to someone who is away themselves (that
authority would never reach anyone). Making and
revoking one are audited (ticketless events).
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import BaseModel, ConfigDict
from sqlalchemy import BindParameter, Row, Table, bindparam, or_, select, text
from sqlalchemy.orm import Session

from store.db import now_of
from store.errors import DelegationInvalid
from store.ledger import Ledger
from store.tables import DelegationRow

#: The longest delegation: a holiday, not a standing transfer of authority.
MAX_PERIOD = timedelta(days=90)
_USER = re.compile(r"[UW][A-Z0-9]{2,}")


class Delegation(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    principal: str
    delegate: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    created_by: str
    reason: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def active(self, at: datetime) -> bool:
        return self.revoked_at is None and self.starts_at <= at < self.ends_at


def _of(row: DelegationRow | Row[Any]) -> Delegation:
    return Delegation(id=row.id, principal=row.principal, delegate=row.delegate,
                      starts_at=row.starts_at, ends_at=row.ends_at, created_at=row.created_at,
                      created_by=row.created_by, reason=row.reason, revoked_at=row.revoked_at,
                      revoked_by=row.revoked_by)


def user_id(value: str, what: str) -> str:
    """A Slack member id, trimmed and upper-cased, or a refusal naming ``what``."""
    cleaned = value.strip().upper()
    if not _USER.fullmatch(cleaned):
        raise DelegationInvalid(f"{what} {value!r} is not a Slack member id; use the U… id "
                                "from the person's profile (⋮ → Copy member ID)")
    return cleaned


_D = cast(Table, DelegationRow.__table__).c
_AT = bindparam("at", type_=_D.starts_at.type)
_USERS: BindParameter[str] = bindparam("users", expanding=True)
_ACTIVE_FOR = select(*_D).where(_D.revoked_at.is_(None), _D.starts_at <= _AT, _D.ends_at > _AT,
                                or_(_D.principal.in_(_USERS), _D.delegate.in_(_USERS)))


class DelegationStore:
    """Intent-named operations on delegations, over the ledger's database."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def delegate(self, principal: str, delegate: str, *, until: datetime, at: datetime,
                 by: str, reason: str | None = None) -> Delegation:
        """Lend ``principal``'s authority to ``delegate`` from ``at`` until ``until``."""
        principal, delegate = user_id(principal, "the principal"), user_id(delegate, "--to")
        if principal == delegate:
            raise DelegationInvalid(f"{principal} cannot delegate to themselves; name someone "
                                    "else with --to")
        if until <= at:
            raise DelegationInvalid(f"--until {until:%Y-%m-%d %H:%M} UTC is not in the future; "
                                    "give a later time or a duration such as 3d")
        if until - at > MAX_PERIOD:
            raise DelegationInvalid(f"a delegation lasts at most {MAX_PERIOD.days} days; give "
                                    "an earlier --until and delegate again later if needed")
        with self.ledger.transactions() as s:
            _serialise(s, principal, delegate)
            clash = s.execute(select(DelegationRow).where(
                DelegationRow.revoked_at.is_(None), DelegationRow.ends_at > at,
                DelegationRow.starts_at < until,
                or_(DelegationRow.principal == principal,
                    DelegationRow.principal == delegate)).order_by(DelegationRow.id)
            ).scalars().first()
            if clash is not None:
                raise DelegationInvalid(_clash(_of(clash), principal, delegate))
            row = DelegationRow(principal=principal, delegate=delegate, starts_at=at,
                                ends_at=until, created_at=at, created_by=by, reason=reason)
            s.add(row)
            s.flush()
            made = _of(row)
        self.ledger.record_event(None, "delegated", actor=by, delegation=made.id,
                                 principal=principal, delegate=delegate,
                                 starts_at=at.isoformat(), ends_at=until.isoformat(),
                                 reason=reason)
        return made

    def revoke(self, delegation_id: int, *, at: datetime, by: str,
               principal: str | None = None) -> Delegation:
        """End a delegation now (``at``: the caller's now, to refuse one that has ended; the
        revocation is dated by the database's clock). ``principal``: only theirs (App Home
        revokes one's own)."""
        with self.ledger.transactions() as s:
            row = s.execute(select(DelegationRow).where(DelegationRow.id == delegation_id)
                            .with_for_update()).scalar_one_or_none()
            if row is None or (principal is not None and row.principal != principal):
                raise DelegationInvalid(f"no delegation {delegation_id} (see `signoff "
                                        "delegate list`)")
            if row.revoked_at is not None or row.ends_at <= at:
                raise DelegationInvalid(f"delegation {delegation_id} has already ended; "
                                        "nothing to revoke")
            # The database's clock, read once the row is locked: the clock every decision
            # that relied on it was checked by, so none can show a later time than this.
            row.revoked_at, row.revoked_by = now_of(s), by
            s.flush()
            ended = _of(row)
        self.ledger.record_event(None, "delegation_revoked", actor=by, delegation=ended.id,
                                 principal=ended.principal, delegate=ended.delegate)
        return ended

    def listing(self, *, at: datetime, user: str | None = None,
                ended: bool = False) -> list[Delegation]:
        """Delegations still in force at ``at`` (``ended``: all of them), newest first;
        ``user``: only those they gave or hold."""
        stmt = select(DelegationRow).order_by(DelegationRow.id.desc())
        if not ended:
            stmt = stmt.where(DelegationRow.revoked_at.is_(None), DelegationRow.ends_at > at)
        if user is not None:
            stmt = stmt.where(or_(DelegationRow.principal == user,
                                  DelegationRow.delegate == user))
        with self.ledger.transactions(write=False) as s:
            return [_of(r) for r in s.execute(stmt.limit(500)).scalars()]

    def active_for(self, users: set[str] | frozenset[str], at: datetime) -> list[Delegation]:
        """Active delegations at ``at`` given or held by any of ``users`` (read fresh: a
        revocation or an end takes effect on the next click)."""
        if not users:
            return []
        wanted = sorted(users)
        with self.ledger.transactions.read() as conn:  # every click asks: no ORM session
            rows = conn.execute(_ACTIVE_FOR, {"at": at, "users": wanted}).all()
        return [_of(r) for r in rows]


def _serialise(s: Session, *users: str) -> None:
    """Two delegations made at once for the same people must not both pass the clash check:
    PostgreSQL takes a transaction lock per person (in one order, so two never deadlock);
    SQLite already has one writer at a time."""
    if s.get_bind().dialect.name != "postgresql":
        return
    for user in sorted(set(users)):
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                  {"key": zlib.crc32(f"signoff-delegation:{user}".encode())})


def _clash(found: Delegation, principal: str, delegate: str) -> str:
    period = f"until {found.ends_at:%Y-%m-%d %H:%M} UTC (delegation {found.id})"
    if found.principal == principal:
        return (f"{principal} already delegates to {found.delegate} {period}; revoke it "
                f"first (`signoff delegate revoke {found.id}`)")
    return (f"{delegate} is away themselves (delegates to {found.delegate} {period}), and "
            "delegations are never passed on; delegate to someone who is not away")
