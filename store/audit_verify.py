"""``audit verify``: every event's hash, every ticket's chain, the global chain of seals, and
every ticket row against its replayed events; optionally checkpoints kept outside the
database. See docs/audit.md for what each check can and cannot catch."""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import audit_replay
from store.audit_hash import GENESIS, key_id, row_hash, seal_hash
from store.tables import AuditHeadRow, AuditRow, TicketRow

MAX_PROBLEMS = 50
_E = AuditRow


@dataclass(frozen=True)
class Problem:
    text: str
    seq: int | None = None
    seal: int | None = None
    ticket_id: str | None = None

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"event seq {self.seq}")
        if self.seal is not None:
            where.append(f"seal {self.seal}")
        if self.ticket_id is not None:
            where.append(f"ticket {self.ticket_id}")
        return f"{', '.join(where) or 'trail'}: {self.text}"


@dataclass
class VerifyReport:
    checked: int = 0
    """Events whose hash and links were checked."""
    sealed: int = 0
    unsealed: int = 0
    oldest_unsealed: datetime | None = None
    """When the oldest event not sealed yet was written (a stopped sealer shows here)."""
    tickets: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)
    key_missing: str | None = None
    """Why the trail cannot be checked without ``SIGNOFF_AUDIT_KEY`` (not tampering)."""

    @property
    def ok(self) -> bool:
        return not self.problems and self.key_missing is None

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    @property
    def bad_seq(self) -> int | None:
        return self.first.seq if self.first else None

    @property
    def bad_seal(self) -> int | None:
        return self.first.seal if self.first else None

    @property
    def problem(self) -> str | None:
        return self.first.text if self.first else None

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def __str__(self) -> str:
        if self.key_missing:
            return f"audit trail NOT VERIFIED: {self.key_missing}"
        counts = (f"{self.checked} events verified ({self.sealed} sealed, {self.unsealed} not "
                  f"sealed yet), {self.tickets} tickets replayed")
        if self.checkpoints:
            counts += (f", {self.checkpoints} checkpoint{'s' if self.checkpoints > 1 else ''} "
                       "matched")
        if self.oldest_unsealed is not None:
            counts += (f"; the oldest event not sealed yet was written "
                       f"{self.oldest_unsealed.isoformat(timespec='seconds')} (events are "
                       "sealed by `signoff serve`'s scheduler and by `signoff audit checkpoint`)")
        if self.ok:
            return f"audit trail intact: {counts}"
        lines = [f"audit trail BROKEN at {self.problems[0]}"]
        lines += [f"  also {p}" for p in self.problems[1:]]
        lines.append(f"  ({counts})")
        return "\n".join(lines)


def verify(session: Session, *, key: bytes | None, batch: int = 1000) -> VerifyReport:
    report = VerifyReport()
    written_with = session.execute(select(_E.key_id).where(_E.key_id.is_not(None)).limit(1)
                                   ).scalar_one_or_none()
    if key is None and written_with is not None:
        report.key_missing = (f"the trail was written with SIGNOFF_AUDIT_KEY (key id "
                              f"{written_with}), which is not set here; set it to verify")
        return report
    _seals(session, key, report, batch)
    _tickets(session, key, report, batch // 2)
    _ticketless(session, key, report, batch)
    _orphans(session, report)
    return report


# -- the global chain ------------------------------------------------------------------------

def _seals(session: Session, key: bytes | None, report: VerifyReport, batch: int) -> None:
    prev, expected = GENESIS, 1
    for row in _keyset(session, select(_E).where(_E.seal.is_not(None)), _E.seal, batch):
        position = row.seal or 0
        if position != expected:
            report.add(Problem(f"sealed events {expected}..{position - 1} are missing "
                               "(events were deleted)", seal=expected))
        elif not _seal_fits(row, prev, key):
            report.add(Problem("the global chain breaks here: this event or its seal was "
                               "changed, or sealed events before it were removed or "
                               "reordered", seq=row.seq, seal=row.seal))
        prev, expected = row.seal_hash or "", position + 1
        report.sealed += 1
    head = session.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1)).scalar_one()
    if head.seq != expected - 1 or head.hash != prev:
        report.add(Problem(
            f"the chain head records {head.seq} sealed events but the chain ends at "
            f"{expected - 1} (events were deleted from the end, or sealed outside signoff)",
            seal=max(head.seq, expected - 1)))
    report.unsealed, report.oldest_unsealed = session.execute(
        select(func.count(), func.min(_E.at)).where(_E.seal.is_(None))).one()


def _seal_fits(row: AuditRow, prev: str, key: bytes | None) -> bool:
    if row.chain_format == 1:  # the old chain: its hash is its seal
        return row.prev_hash == prev and row.seal_hash == row.hash
    assert row.seal is not None and row.sealed_at is not None
    expected = seal_hash(seal=row.seal, seq=row.seq, event_hash=row.hash,
                         sealed_at=row.sealed_at, prev=prev, key=key)
    return hmac.compare_digest(expected, row.seal_hash or "")


# -- each ticket's chain, and its row ---------------------------------------------------------

def chain_problems(rows: Sequence[Any], key: bytes | None, *,
                   unknown_keys_ok: bool = False) -> list[Problem]:
    """One ticket's events (``ticket_seq`` order): numbered 1.. without gaps, each linked to
    the one before, each hash recomputed. ``unknown_keys_ok`` skips the hashes of events
    written with a key this process does not have (links are still checked)."""
    out: list[Problem] = []
    prev, expected = GENESIS, 1
    for row in rows:
        if row.ticket_seq != expected:
            out.append(Problem(f"the ticket's event {expected} is missing (deleted), or "
                               "events were reordered", seq=row.seq, ticket_id=row.ticket_id))
        elif row.chain_format != 1 and row.prev_hash != prev:
            out.append(Problem("does not link to the ticket's previous event (events "
                               "deleted, inserted or reordered)", seq=row.seq,
                               ticket_id=row.ticket_id))
        problem = hash_problem(row, key, unknown_keys_ok=unknown_keys_ok)
        if problem:
            out.append(Problem(problem, seq=row.seq, ticket_id=row.ticket_id))
        prev, expected = row.hash, (row.ticket_seq or 0) + 1
    return out


def hash_problem(row: Any, key: bytes | None, *, unknown_keys_ok: bool = False) -> str | None:
    mine = key_id(key)
    if row.chain_format != 1 and row.key_id != mine:
        if unknown_keys_ok and mine is None:
            return None
        written = "without a key" if row.key_id is None else f"with key id {row.key_id}"
        return (f"the {row.kind!r} event was written {written}, but SIGNOFF_AUDIT_KEY has "
                f"id {mine}" if mine else f"the {row.kind!r} event was written {written}")
    if not hmac.compare_digest(row_hash(row, key), row.hash):
        return f"hash mismatch: the {row.kind!r} event was modified after it was written"
    return None


def _tickets(session: Session, key: bytes | None, report: VerifyReport, batch: int) -> None:
    last = ""
    while True:
        tickets = session.execute(
            select(TicketRow.id, TicketRow.status, TicketRow.final_args_hash,
                   TicketRow.approvals).where(TicketRow.id > last).order_by(TicketRow.id)
            .limit(batch)).all()
        if not tickets:
            return
        ids = [t.id for t in tickets]
        events = session.execute(select(_E).where(_E.ticket_id.in_(ids))
                                 .order_by(_E.ticket_id, _E.ticket_seq)).scalars().all()
        by_ticket = {tid: list(rows) for tid, rows in groupby(events, lambda r: r.ticket_id)}
        for t in tickets:
            rows = by_ticket.get(t.id, [])
            for p in chain_problems(rows, key):
                report.add(p)
            replayed = audit_replay.replay(rows)
            for text in audit_replay.row_problems(replayed, status=t.status,
                                                  final_args_hash=t.final_args_hash,
                                                  approvals=t.approvals):
                report.add(Problem(text, ticket_id=t.id))
            report.checked += len(rows)
        report.tickets += len(tickets)
        last = ids[-1]


def _ticketless(session: Session, key: bytes | None, report: VerifyReport, batch: int) -> None:
    seen: set[str] = set()
    for row in _keyset(session, select(_E).where(_E.ticket_id.is_(None)), _E.seq, batch):
        if row.chain_format != 1 and (row.prev_hash != GENESIS or row.ticket_seq is not None):
            report.add(Problem("an event without a ticket cannot link to another",
                               seq=row.seq))
        problem = hash_problem(row, key)
        if problem:
            report.add(Problem(problem, seq=row.seq))
        elif row.hash in seen:
            report.add(Problem("a copy of an earlier event", seq=row.seq))
        seen.add(row.hash)
        report.checked += 1


def _orphans(session: Session, report: VerifyReport) -> None:
    gone = session.execute(
        select(_E.ticket_id, func.min(_E.seq)).where(
            _E.ticket_id.is_not(None), _E.ticket_id.not_in(select(TicketRow.id)))
        .group_by(_E.ticket_id).order_by(func.min(_E.seq))).all()
    for ticket_id, seq in gone:
        report.add(Problem("the ticket row these events belong to is gone (deleted)",
                           seq=seq, ticket_id=ticket_id))


def _keyset(session: Session, stmt: Any, order: Any, batch: int) -> Iterator[AuditRow]:
    last: int | None = None
    while True:
        page = stmt if last is None else stmt.where(order > last)
        rows = session.execute(page.order_by(order).limit(batch)).scalars().all()
        if not rows:
            return
        yield from rows
        last = getattr(rows[-1], order.key)


def backing_problems(session: Session, ticket: TicketRow, key: bytes | None) -> list[str]:
    """Why ``ticket``'s approval of its current arguments is not shown by its own events
    (empty when it is): read in the executing transaction, under the ticket's lock."""
    rows = session.execute(select(_E).where(_E.ticket_id == ticket.id)
                           .order_by(_E.ticket_seq)).scalars().all()
    out = [str(p) for p in chain_problems(rows, key, unknown_keys_ok=True)]
    replayed = audit_replay.replay(rows)
    out += audit_replay.row_problems(replayed, status=ticket.status,
                                     final_args_hash=ticket.final_args_hash,
                                     approvals=ticket.approvals)
    if not out and replayed.status != audit_replay.S.APPROVED:
        out.append(f"its events leave it {replayed.status}, not approved")
    return out
