"""Delegations read inside a decision's transaction, to check again (by the database's clock,
read after the lock was taken) that the ones a decision or a grant's use relies on are active.

The rows are share-locked on PostgreSQL: a revocation (which locks its row for update) waits
for the deciding transaction's commit, or the read waits for the revocation's and sees it, so
no decision commits on a delegation whose revocation committed first. SQLite already has one
writer at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BindParameter, Connection, Row, Table, bindparam, or_, select

from store.tables import DelegationRow

_D = cast(Table, DelegationRow.__table__).c
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_WHO = bindparam("who", type_=_D.delegate.type)
_LINKS = (select(_D.id, _D.principal, _D.delegate, _D.starts_at, _D.ends_at, _D.revoked_at)
          .where(or_(_D.id.in_(_IDS), _D.principal == _WHO, _D.delegate == _WHO))
          .with_for_update(read=True))


def links(conn: Connection, ids: Iterable[int], who: str) -> Sequence[Row[Any]]:
    """The delegations ``ids`` and every one ``who`` gives or holds, share-locked."""
    return cast("Sequence[Row[Any]]",
                conn.execute(_LINKS, {"ids": sorted(ids), "who": who}).all())


def active(d: Row[Any], now: datetime) -> bool:
    """Not revoked, and ``now`` within its period (as :meth:`Delegation.active`)."""
    return d.revoked_at is None and d.starts_at <= now < d.ends_at


def one_person(found: Iterable[Row[Any]], who: str, now: datetime) -> frozenset[str]:
    """``who`` and everyone an active delegation among ``found`` (given or held) makes one
    person with them."""
    return frozenset({who} | {d.principal if d.delegate == who else d.delegate
                              for d in found
                              if who in (d.principal, d.delegate) and active(d, now)})
