"""The sealer: gives committed audit events their place in the global hash chain.

Writers append to per-ticket chains without any global lock (:mod:`store.audit`). The
sealer runs in every replica (the scheduler's seal job) and seals what has committed:

1. it takes the ``audit_head`` row with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite's
   ``BEGIN IMMEDIATE`` is already exclusive), so one sealer at a time seals and the others
   skip the round instead of queueing;
2. it reads the committed events that have no seal yet, oldest ``seq`` first, and numbers
   them ``head + 1, head + 2, …``, each seal hash covering the previous one;
3. it marks them and moves the head, in one transaction.

Why this is complete although ``seq`` is not the commit order (PostgreSQL hands out ``seq``
at insert, and transactions commit in any order): the sealer never assumes that the events
below some ``seq`` are all there. It seals *every* committed event that is not sealed yet,
wherever its ``seq`` falls, and an event committed after the read simply has no seal and is
taken by the next round. An event is in the global chain exactly once (``seal`` is unique,
and the UPDATE only touches rows still unsealed), and its ticket's earlier events are
sealed no later than it: an event's ticket predecessor committed before it was written.

SQLite has one writer at a time, so there the writing transaction seals its own events as
it inserts them (:func:`insert_sealed`): no lag, and no sealer queueing for the lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from store.audit_hash import seal_hash
from store.db import Transactions, db_now
from store.tables import AuditHeadRow, AuditRow

_EVENTS = cast(Table, AuditRow.__table__)
_HEAD = cast(Table, AuditHeadRow.__table__)
_E = _EVENTS.c
_TAKE_HEAD = (select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)
              .with_for_update(skip_locked=True))
_UNSEALED = select(_E.seq, _E.hash).where(_E.seal.is_(None)).order_by(_E.seq)
_ANY_UNSEALED = select(_E.seq).where(_E.seal.is_(None)).limit(1)
_MARK = (update(_EVENTS).where(_E.seq == bindparam("b_seq"), _E.seal.is_(None))
         .values(seal=bindparam("b_seal"), seal_hash=bindparam("b_hash"),
                 sealed_at=bindparam("b_at")))
_MOVE_HEAD = (update(_HEAD).where(_HEAD.c.id == 1)
              .values(seq=bindparam("b_seal"), hash=bindparam("b_hash")))


_SQLITE_HEAD = select(_HEAD.c.seq, _HEAD.c.hash, select(func.max(_E.seq)).scalar_subquery()
                      .label("top")).where(_HEAD.c.id == 1)
_INSERT = insert(_EVENTS)


def insert_sealed(conn: Connection, rows: list[dict[str, Any]], *, key: bytes | None,
                  at: datetime) -> None:
    """SQLite: insert events already sealed, numbered after the newest ``seq`` and seal.

    SQLite has one writer at a time and this transaction is it, so nothing can commit
    between reading the head and moving it: sealing here costs no concurrency and leaves no
    lag (``sealed_at`` is the write's own clock reading). Three statements, as many as the
    old global lock took. Fills in each row's ``seq`` and seal columns.
    """
    head = conn.execute(_SQLITE_HEAD).one()
    seq, position, prev = head.top or 0, head.seq, head.hash
    for row in rows:
        seq, position = seq + 1, position + 1
        prev = seal_hash(seal=position, seq=seq, event_hash=row["hash"], sealed_at=at,
                         prev=prev, key=key)
        row.update(seq=seq, seal=position, seal_hash=prev, sealed_at=at)
    conn.execute(_INSERT, rows[0] if len(rows) == 1 else rows)
    conn.execute(_MOVE_HEAD, {"b_seal": position, "b_hash": prev})


def anything_unsealed(session: Session) -> bool:
    """A cheap read, so an idle sealer takes no write lock (SQLite has only one)."""
    return session.execute(_ANY_UNSEALED).first() is not None


def seal_pending(tx: Transactions, *, key: bytes | None, batch: int = 2000) -> list[int]:
    """Seal every committed event not sealed yet, a batch per transaction; their seqs.
    Any number of replicas may call this at once: one seals, the others skip."""
    sealed: list[int] = []
    while True:
        with tx(write=False) as s:
            if not anything_unsealed(s):
                return sealed
        with tx() as s:
            done = seal_batch(s, key=key, limit=batch)
        sealed += done
        if len(done) < batch:
            return sealed


def seal_batch(session: Session, *, key: bytes | None, limit: int) -> list[int]:
    """Seal up to ``limit`` committed events in the caller's transaction; their seqs.

    Empty when there is nothing to seal, or when another sealer holds the head (it seals
    these events too, or its next round does).
    """
    conn = session.connection()
    head = conn.execute(_TAKE_HEAD).one_or_none()
    if head is None:
        return []
    rows = conn.execute(_UNSEALED.limit(limit)).all()
    if not rows:
        return []
    now = conn.execute(select(db_now())).scalar_one()
    position, prev = head.seq, head.hash
    params: list[dict[str, Any]] = []
    for row in rows:
        position += 1
        prev = seal_hash(seal=position, seq=row.seq, event_hash=row.hash, sealed_at=now,
                         prev=prev, key=key)
        params.append({"b_seq": row.seq, "b_seal": position, "b_hash": prev, "b_at": now})
    marked = conn.execute(_MARK, params).rowcount
    if marked != len(params):
        raise RuntimeError("audit events were sealed by another writer while the head was "
                           "held; nothing sealed")
    conn.execute(_MOVE_HEAD, {"b_seal": position, "b_hash": prev})
    return [row.seq for row in rows]
