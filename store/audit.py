"""The tamper-evident audit trail: per-ticket chains, sealed into one global chain.

Writing takes no global lock. Each event links to the previous event *of its ticket*
(``ticket_seq``, ``prev_hash``), read under the ticket's row lock, which every ticket write
holds anyway; so writes for unrelated tickets never wait on each other. A background sealer
(:mod:`store.audit_seal`) then gives committed events their place in a global hash chain
(``seal``, ``seal_hash``), which is what a checkpoint outside the database anchors. On
SQLite, which has one writer at a time anyway, the writing transaction seals its own events
before it commits: the same chain, no lag, and no second writer queueing for the lock.

The hashes cover each event's fields in canonical JSON; with ``audit_key`` set they are
HMACs, so rewriting an event also needs the key. docs/audit.md has the design and its
threat model.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from store.audit_hash import FORMAT, GENESIS, event_hash, key_id
from store.audit_seal import insert_sealed
from store.models import AuditEvent, canonical_json
from store.tables import AuditRow

__all__ = ["GENESIS", "PendingEvent", "append", "append_many", "event_hash", "key_id",
           "to_event"]

_EVENTS = cast(Table, AuditRow.__table__)
# Built once: every audited write runs it.
_INSERT_EVENTS = insert(_EVENTS).returning(_EVENTS.c.seq, sort_by_parameter_order=True)
# One ticket's newest event: built once, as every audited write of one ticket reads it.
_TAIL = (select(_EVENTS.c.ticket_seq, _EVENTS.c.hash)
         .where(_EVENTS.c.ticket_id == bindparam("tid"))
         .order_by(_EVENTS.c.ticket_seq.desc()).limit(1))


@dataclass(frozen=True)
class PendingEvent:
    """An event to append: everything but its place in the chain."""

    ticket_id: str | None
    kind: str
    actor: str
    data: dict[str, Any]


def append(session: Session, *, ticket_id: str | None, kind: str, actor: str,
           data: dict[str, Any], at: datetime, key: bytes | None,
           new_ticket: bool = False) -> AuditEvent:
    """Append one event inside the caller's transaction (commit makes it durable)."""
    (event,) = append_many(session, [PendingEvent(ticket_id, kind, actor, data)], at=at,
                           key=key, new_tickets=(ticket_id,) if new_ticket else ())
    return event


def append_many(session: Session, events: Sequence[PendingEvent], *, at: datetime,
                key: bytes | None, new_tickets: Collection[str | None] = ()
                ) -> list[AuditEvent]:
    """Append ``events`` in order, in the caller's transaction.

    The caller holds the row lock of every ticket named (the transition it audits took it),
    so each ticket's chain has one writer at a time; ``new_tickets`` were inserted by this
    transaction and have no events yet. The unique ``(ticket_id, ticket_seq)`` key turns a
    forgotten lock into an error instead of a fork. Ticketless events stand alone.
    """
    if not events:
        return []
    conn = session.connection()  # plain Core: no ORM work on the write path
    at = at.astimezone(UTC)
    kid = key_id(key)
    tails = _tails(conn, {e.ticket_id for e in events
                          if e.ticket_id is not None and e.ticket_id not in new_tickets})
    rows: list[dict[str, Any]] = []
    for e in events:
        ticket_seq, prev = None, GENESIS
        if e.ticket_id is not None:
            last_seq, prev = tails.get(e.ticket_id, (0, GENESIS))
            ticket_seq = last_seq + 1
        data_json = canonical_json(e.data)
        digest = event_hash(ticket_id=e.ticket_id, ticket_seq=ticket_seq, kind=e.kind,
                            actor=e.actor, at=at, data_json=data_json, prev_hash=prev, key=key)
        if e.ticket_id is not None:
            tails[e.ticket_id] = (ticket_seq or 0, digest)
        rows.append({"ticket_id": e.ticket_id, "ticket_seq": ticket_seq, "kind": e.kind,
                     "actor": e.actor, "at": at, "data": data_json, "prev_hash": prev,
                     "hash": digest, "key_id": kid, "chain_format": FORMAT})
    if conn.dialect.name == "sqlite":  # this transaction holds the database's only write lock
        insert_sealed(conn, rows, key=key, at=at)
        seqs = [r["seq"] for r in rows]
    else:
        seqs = list(conn.execute(_INSERT_EVENTS, rows[0] if len(rows) == 1 else rows)
                    .scalars())
    return [AuditEvent(seq=seq, ticket_id=r["ticket_id"], ticket_seq=r["ticket_seq"],
                       kind=r["kind"], actor=r["actor"], at=at, data=e.data,
                       prev_hash=r["prev_hash"], hash=r["hash"], seal=r.get("seal"))
            for seq, r, e in zip(seqs, rows, events, strict=True)]


def _tails(conn: Connection, ticket_ids: Iterable[str]) -> dict[str, tuple[int, str]]:
    """The newest event (ticket_seq, hash) of each ticket: one indexed query."""
    ids = sorted(ticket_ids)
    if not ids:
        return {}
    e = _EVENTS.c
    if len(ids) == 1:
        found = conn.execute(_TAIL, {"tid": ids[0]}).one_or_none()
        return {} if found is None else {ids[0]: (found.ticket_seq, found.hash)}
    newest = (select(e.ticket_id, func.max(e.ticket_seq).label("top"))
              .where(e.ticket_id.in_(ids)).group_by(e.ticket_id).subquery())
    rows = conn.execute(select(e.ticket_id, e.ticket_seq, e.hash).select_from(_EVENTS.join(
        newest, and_(e.ticket_id == newest.c.ticket_id, e.ticket_seq == newest.c.top))))
    return {r.ticket_id: (r.ticket_seq, r.hash) for r in rows}


def to_event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        seq=row.seq, ticket_id=row.ticket_id, ticket_seq=row.ticket_seq, kind=row.kind,
        actor=row.actor, at=row.at, data=json.loads(row.data), prev_hash=row.prev_hash,
        hash=row.hash, seal=row.seal,
    )
