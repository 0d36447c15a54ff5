"""The tamper-evident audit chain.

Each event stores the hash of the previous one; the hash covers the event's own fields
in canonical JSON. With ``audit_key`` set the hashes are HMACs, so rewriting the chain
also needs the key. A single ``audit_head`` row holds the newest seq and hash: locking
it serialises appends, and comparing it with the last event exposes a cut-off tail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from store.models import AuditEvent, canonical_json
from store.tables import AuditHeadRow, AuditRow

GENESIS = "0" * 64

# Built once: every audited write runs these, and the head is held until the commit.
_HEAD_TABLE = cast(Table, AuditHeadRow.__table__)
_LOCK_HEAD = (select(_HEAD_TABLE.c.seq, _HEAD_TABLE.c.hash).where(_HEAD_TABLE.c.id == 1)
              .with_for_update())
_INSERT_EVENTS = insert(cast(Table, AuditRow.__table__))
_MOVE_HEAD = (update(_HEAD_TABLE).where(_HEAD_TABLE.c.id == 1)
              .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))


def event_hash(
    *,
    seq: int,
    ticket_id: str | None,
    kind: str,
    actor: str,
    at: datetime,
    data_json: str,
    prev_hash: str,
    key: bytes | None,
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "ticket_id": ticket_id,
            "kind": kind,
            "actor": actor,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "data": data_json,
            "prev_hash": prev_hash,
        }
    ).encode("utf-8")
    if key:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class PendingEvent:
    """An event to append: everything but its place in the chain."""

    ticket_id: str | None
    kind: str
    actor: str
    data: dict[str, Any]


def append(
    session: Session,
    *,
    ticket_id: str | None,
    kind: str,
    actor: str,
    data: dict[str, Any],
    at: datetime,
    key: bytes | None,
) -> AuditEvent:
    """Append one event inside the caller's transaction (commit makes it durable)."""
    (event,) = append_many(session, [PendingEvent(ticket_id, kind, actor, data)], at=at, key=key)
    return event


def append_many(
    session: Session, events: Sequence[PendingEvent], *, at: datetime, key: bytes | None,
) -> list[AuditEvent]:
    """Append ``events`` in order, in the caller's transaction, under one lock of the head.

    Plain Core statements (no ORM objects): the head is the last lock every writer takes and
    is held until the commit, so the less work after taking it, the shorter the queue behind.
    """
    if not events:
        return []
    conn = session.connection()  # plain Core: no ORM work while the head is locked
    head = conn.execute(_LOCK_HEAD).one()
    at = at.astimezone(UTC)
    seq, prev = head.seq, head.hash
    out: list[AuditEvent] = []
    rows: list[dict[str, Any]] = []
    for e in events:
        seq += 1
        data_json = canonical_json(e.data)
        digest = event_hash(seq=seq, ticket_id=e.ticket_id, kind=e.kind, actor=e.actor, at=at,
                            data_json=data_json, prev_hash=prev, key=key)
        rows.append({"seq": seq, "ticket_id": e.ticket_id, "kind": e.kind, "actor": e.actor,
                     "at": at, "data": data_json, "prev_hash": prev, "hash": digest})
        out.append(AuditEvent(seq=seq, ticket_id=e.ticket_id, kind=e.kind, actor=e.actor,
                              at=at, data=e.data, prev_hash=prev, hash=digest))
        prev = digest
    conn.execute(_INSERT_EVENTS, rows[0] if len(rows) == 1 else rows)
    conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev})
    return out


def to_event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        seq=row.seq, ticket_id=row.ticket_id, kind=row.kind, actor=row.actor, at=row.at,
        data=json.loads(row.data), prev_hash=row.prev_hash, hash=row.hash,
    )


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    bad_seq: int | None = None
    problem: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} events verified"
        return f"audit chain BROKEN at event seq {self.bad_seq}: {self.problem}"


def verify(session: Session, *, key: bytes | None, batch: int = 1000) -> VerifyReport:
    """Walk the whole chain in seq order; report the first event that does not fit."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    for row in _rows(session, batch):
        if row.seq != expected_seq:
            return VerifyReport(
                False, checked, expected_seq,
                f"missing: the next event present is seq {row.seq} (events were deleted)",
            )
        problem = _check_row(row, prev_hash, key)
        if problem:
            return VerifyReport(False, checked, row.seq, problem)
        prev_hash, expected_seq, checked = row.hash, row.seq + 1, checked + 1
    head = session.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1)).scalar_one()
    if head.seq != checked or head.hash != prev_hash:
        return VerifyReport(
            False, checked, checked + 1 if head.seq > checked else head.seq,
            f"the chain head records {head.seq} events but {checked} are present "
            "(events were deleted from the end, or appended outside signoff)",
        )
    return VerifyReport(True, checked)


def _check_row(row: AuditRow, prev_hash: str, key: bytes | None) -> str | None:
    if row.prev_hash != prev_hash:
        return "prev_hash does not match the previous event (events deleted, inserted or reordered)"
    digest = event_hash(
        seq=row.seq, ticket_id=row.ticket_id, kind=row.kind, actor=row.actor, at=row.at,
        data_json=row.data, prev_hash=row.prev_hash, key=key,
    )
    if not hmac.compare_digest(digest, row.hash):
        return f"hash mismatch: the {row.kind!r} event was modified after it was written"
    return None


def _rows(session: Session, batch: int) -> Iterator[AuditRow]:
    last = 0
    while True:
        rows = session.execute(
            select(AuditRow).where(AuditRow.seq > last).order_by(AuditRow.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
