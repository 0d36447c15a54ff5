"""Batch review in the ledger: batches of similar pending requests, and deciding them together.

A batch is a card's worth of similar pending tickets (the grouping rule is
:mod:`escalation.batching`'s). Each member stays a ticket of its own: its own deadline and
chain, its own decision row and audit events. The card's "Approve all N" is bound to the
exact list the card showed, recorded as a *view* (the members' ids, versions and argument
hashes, by the hash of that list). :meth:`BatchStore.decide_all` decides exactly the tickets
of one view, in one transaction: if any of them is no longer as listed (decided on its own,
edited, expired, changed), nothing is decided and the caller is told which one and why. A
request that joined the batch after the card was rendered is not in that view, so it is
never swept in.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import audit, tickets
from store.batch_tables import BatchMemberRow, BatchRow, BatchViewRow
from store.convert import to_decision, to_ticket
from store.db import now_of
from store.decisions import decision_update
from store.errors import (
    ChangedSinceSeen,
    DeadlinePassed,
    TicketNotFound,
    TransitionRefused,
)
from store.inbox import CLICK_MAX_AGE, settle
from store.ledger import Ledger
from store.models import (
    Decision,
    DecisionKind,
    NewTicket,
    SlackRef,
    Ticket,
    TicketStatus,
    canonical_json,
)
from store.states import Event
from store.tables import DecisionRow, MessageRow, TicketRow
from store.transition import transition, transition_refused

BATCH_ROLE = "batch"
"""The role of a member's message record that points at its batch's card."""
JOIN_ATTEMPTS = 5


@dataclass(frozen=True)
class BatchItem:
    """One listed member as a card showed it: what an "Approve all" is bound to."""

    ticket_id: str
    version: int
    args_hash: str

    @classmethod
    def of(cls, ticket: Ticket) -> BatchItem:
        return cls(ticket.id, ticket.version, ticket.final_args_hash)

    def as_json(self) -> dict[str, Any]:
        return {"t": self.ticket_id, "v": self.version, "h": self.args_hash}


def list_hash(batch_id: str, items: Sequence[BatchItem]) -> str:
    """The hash of a listed set of members (ids, versions and argument hashes)."""
    data = {"batch": batch_id, "items": [i.as_json() for i in items]}
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def similarity_key(ticket: NewTicket | Ticket) -> str:
    """What similar requests share: action, the route snapshot, agent, tier and rule. A
    member whose key changes (an edit that re-routed it) leaves its batch's list."""
    parts = {"action": ticket.action, "route": ticket.route.model_dump(mode="json"),
             "agent": ticket.agent, "tier": ticket.tier.value, "rule": ticket.policy_rule}
    return hashlib.sha256(canonical_json(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Batch:
    id: str
    key: str
    action: str
    opened_at: datetime
    closes_at: datetime
    max_members: int
    card: SlackRef | None
    tickets: tuple[Ticket, ...]
    """Every member, in the order they joined."""

    @property
    def listed(self) -> tuple[Ticket, ...]:
        """The members a card lists for "Approve all": pending, still shown on this card
        and still similar (an edit may have moved one to a card of its own)."""
        return tuple(t for t in self.tickets if _still_listed(t, self.key, self.card))

    @property
    def items(self) -> tuple[BatchItem, ...]:
        return tuple(BatchItem.of(t) for t in self.listed)

    @property
    def hash(self) -> str:
        return list_hash(self.id, self.items)


def _still_listed(ticket: Ticket, key: str, card: SlackRef | None) -> bool:
    # A member with no card yet is about to get the batch's (it joined while the card was
    # being posted); one with another card was moved off the batch by an edit.
    on_card = ticket.card is None or (card is not None and ticket.card.ts == card.ts
                                      and ticket.card.channel == card.channel)
    return (ticket.status == TicketStatus.PENDING and on_card
            and similarity_key(ticket) == key)


def new_batch_id() -> str:
    return f"b{int(time.time() * 1000):x}{secrets.token_hex(6)}"


class BatchStore:
    """Batches on a :class:`Ledger`'s database. Thread-safe."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._tx = ledger.transactions

    # -- grouping ---------------------------------------------------------------------------

    def join(self, ticket_id: str, key: str, *, max_members: int, window: timedelta,
             action: str) -> tuple[str, bool]:
        """Put a new ticket in the open batch for ``key`` (or open one): ``(batch id,
        opened)``. A batch past its window or full is closed first. Two requests opening a
        batch at once meet on the unique ``open_key``: the loser joins the winner's."""
        for _ in range(JOIN_ATTEMPTS):
            try:
                with self._tx() as s:
                    return self._join(s, ticket_id, key, max_members, window, action)
            except IntegrityError:
                continue
        raise TransitionRefused(ticket_id, "batch", "pending",
                                detail="could not join a batch (too many at once)")

    def _join(self, s: Session, ticket_id: str, key: str, max_members: int,
              window: timedelta, action: str) -> tuple[str, bool]:
        now = now_of(s)
        row = s.execute(select(BatchRow).where(BatchRow.open_key == key)
                        .with_for_update()).scalar_one_or_none()
        if row is not None and (row.closes_at <= now or row.members >= row.max_members):
            row.open_key = None
            s.flush()
            row = None
        opened = row is None
        if row is None:
            row = BatchRow(id=new_batch_id(), key=key, open_key=key, action=action,
                           opened_at=now, closes_at=now + window, max_members=max_members,
                           members=0)
            s.add(row)
            s.flush()
        row.members += 1
        if row.members >= row.max_members:
            row.open_key = None  # full: the next similar request starts a new batch
        s.add(BatchMemberRow(ticket_id=ticket_id, batch_id=row.id, position=row.members))
        s.flush()
        return row.id, opened

    def link_card(self, batch_id: str, ref: SlackRef) -> list[str]:
        """Record the batch's card and make it the card of every member that has none yet
        (their reminders and notes go to its thread); the ids of the members linked."""
        with self._tx() as s:
            batch = s.execute(select(BatchRow).where(BatchRow.id == batch_id)
                              .with_for_update()).scalar_one()
            batch.card_channel, batch.card_ts = ref.channel, ref.ts
            rows = s.execute(select(TicketRow).join(
                BatchMemberRow, BatchMemberRow.ticket_id == TicketRow.id).where(
                BatchMemberRow.batch_id == batch_id, TicketRow.card_ts.is_(None))
                .order_by(TicketRow.id).with_for_update(of=TicketRow)).scalars().all()
            now = now_of(s)
            for row in rows:
                row.card_channel, row.card_ts, row.shown_version = ref.channel, ref.ts, row.version
                pointer = SlackRef(role=BATCH_ROLE, channel=ref.channel, ts=ref.ts)
                tickets.insert_message(s, row.id, pointer, now)
                audit.append(s, ticket_id=row.id, kind="posted", actor=tickets.SYSTEM_ACTOR, at=now,
                             key=self.ledger.audit_key,
                             data={"role": BATCH_ROLE, "channel": ref.channel, "ts": ref.ts,
                                   "user": None, "batch": batch_id})
            return [r.id for r in rows]

    # -- reading ----------------------------------------------------------------------------

    def batch_of(self, ticket_id: str) -> str | None:
        with self._tx(write=False) as s:
            return s.execute(select(BatchMemberRow.batch_id).where(
                BatchMemberRow.ticket_id == ticket_id)).scalar_one_or_none()

    def get(self, batch_id: str) -> Batch:
        with self._tx(write=False) as s:
            row = s.get(BatchRow, batch_id)
            if row is None:
                raise TicketNotFound(batch_id)
            members = s.execute(select(TicketRow).join(
                BatchMemberRow, BatchMemberRow.ticket_id == TicketRow.id).where(
                BatchMemberRow.batch_id == batch_id).order_by(BatchMemberRow.position)
            ).scalars().all()
            messages: dict[str, list[MessageRow]] = {m.id: [] for m in members}
            for msg in s.execute(select(MessageRow).where(  # one read for all members
                    MessageRow.ticket_id.in_(list(messages))).order_by(MessageRow.id)).scalars():
                messages[msg.ticket_id].append(msg)
            found = [to_ticket(m, messages[m.id]) for m in members]
        card = (SlackRef(role="card", channel=row.card_channel, ts=row.card_ts)
                if row.card_channel and row.card_ts else None)
        return Batch(row.id, row.key, row.action, row.opened_at, row.closes_at,
                     row.max_members, card, tuple(found))

    def record_view(self, batch: Batch) -> str:
        """Remember the list ``batch`` shows now (a card is about to show it); its hash."""
        digest = batch.hash
        with self._tx() as s:
            if s.get(BatchViewRow, (batch.id, digest)) is None:
                s.add(BatchViewRow(batch_id=batch.id, hash=digest, at=now_of(s),
                                   items=[i.as_json() for i in batch.items]))
        return digest

    def view(self, batch_id: str, digest: str) -> tuple[BatchItem, ...] | None:
        """The members a card with list hash ``digest`` showed (None: no card showed it)."""
        with self._tx(write=False) as s:
            row = s.get(BatchViewRow, (batch_id, digest))
            return None if row is None else _items(row)

    def open_batches(self) -> list[str]:
        """Batches with a card and at least one pending member (for the sweep's repair)."""
        with self._tx(write=False) as s:
            return list(s.execute(select(BatchMemberRow.batch_id).join(
                TicketRow, TicketRow.id == BatchMemberRow.ticket_id).where(
                TicketRow.status == TicketStatus.PENDING.value).distinct()).scalars())

    # -- deciding ---------------------------------------------------------------------------

    def decide_all(self, batch_id: str, digest: str, *, reviewer: str, kind: DecisionKind,
                   reason: str | None = None, click_id: int | None = None,
                   click_max_age: timedelta = CLICK_MAX_AGE
                   ) -> list[tuple[Ticket, Decision]]:
        """Approve (or reject) exactly the members listed by view ``digest``, each with its
        own decision row and audit event naming the batch, in one transaction. Raises, and
        decides nothing, if any listed member is not exactly as listed and pending."""
        if kind not in (DecisionKind.APPROVE, DecisionKind.REJECT):
            raise ValueError(f"a batch is approved or rejected as a whole, not {kind.value}")
        with self._tx() as s:
            view = s.get(BatchViewRow, (batch_id, digest))
            if view is None:
                raise TransitionRefused(batch_id, kind.value, "unknown",
                                        detail="no card of this batch showed that list")
            items = _items(view)
            batch = s.execute(select(BatchRow).where(BatchRow.id == batch_id)).scalar_one()
            rows = _lock_members(s, batch_id, items)
            now = now_of(s)
            card = SlackRef(role="card", channel=batch.card_channel or "", ts=batch.card_ts or "")
            for item in items:
                _check_listed(rows[item.ticket_id], item, kind, now)
                if not _still_listed(to_ticket(rows[item.ticket_id]), batch.key, card):
                    row = rows[item.ticket_id]
                    raise ChangedSinceSeen(row.id, kind.value, row.status, seen=item.version,
                                           current=row.version)
            done = [self._decide_one(s, rows[i.ticket_id], reviewer, kind, reason, now,
                                     batch_id, digest, len(items)) for i in items]
            if click_id is not None:
                settle(s, click_id, now, done[0][1].id, click_max_age)
            return done

    def _decide_one(self, s: Session, row: TicketRow, reviewer: str, kind: DecisionKind,
                    reason: str | None, now: datetime, batch_id: str, digest: str,
                    size: int) -> tuple[Ticket, Decision]:
        update_ = decision_update(row, reviewer, kind, None)
        if not update_.final:  # never batched, but the snapshot is what counts
            raise TransitionRefused(row.id, kind.value, row.status,
                                    detail="it needs more than one approval")
        transition(s, row, update_.event, decided_by=reviewer, decided_at=now,
                   **update_.values)
        s.expire(row)
        decision = DecisionRow(ticket_id=row.id, reviewer=reviewer, kind=kind.value,
                               reason=reason, args=None, args_hash=update_.decision_hash,
                               at=now, policy_version=row.policy_version)
        s.add(decision)
        s.flush()
        audit.append(s, ticket_id=row.id, kind=update_.audit_kind, actor=reviewer, at=now,
                     key=self.ledger.audit_key, data={
                         "decision": kind.value, "reason": reason, "args": None,
                         "args_hash": update_.decision_hash, "status": row.status,
                         "approvals": list(row.approvals),
                         "approvals_required": int(row.route.get("approvals_required", 1)),
                         "policy_version": decision.policy_version,
                         "batch": batch_id, "batch_list": digest, "batch_size": size})
        return to_ticket(row, _messages(s, row.id)), to_decision(decision)

    def close(self, batch_id: str) -> None:
        """Take no more members (used when a card could not be posted)."""
        with self._tx() as s:
            s.execute(update(BatchRow).where(BatchRow.id == batch_id).values(open_key=None))

    def count_members(self, batch_id: str) -> int:
        with self._tx(write=False) as s:
            return int(s.execute(select(func.count()).select_from(BatchMemberRow).where(
                BatchMemberRow.batch_id == batch_id)).scalar_one())


def _items(row: BatchViewRow) -> tuple[BatchItem, ...]:
    return tuple(BatchItem(str(i["t"]), int(i["v"]), str(i["h"])) for i in row.items)


def _messages(s: Session, ticket_id: str) -> Sequence[MessageRow]:
    return s.execute(select(MessageRow).where(MessageRow.ticket_id == ticket_id)
                     .order_by(MessageRow.id)).scalars().all()


def _lock_members(s: Session, batch_id: str, items: Sequence[BatchItem]
                  ) -> dict[str, TicketRow]:
    """Lock the listed tickets (in id order, so two batch decisions never deadlock), and
    only those that are members of this batch."""
    ids = sorted({i.ticket_id for i in items})
    rows = s.execute(select(TicketRow).join(
        BatchMemberRow, BatchMemberRow.ticket_id == TicketRow.id).where(
        BatchMemberRow.batch_id == batch_id, TicketRow.id.in_(ids))
        .order_by(TicketRow.id).with_for_update(of=TicketRow)).scalars().all()
    found = {r.id: r for r in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise TicketNotFound(missing[0])
    return found


def _check_listed(row: TicketRow, item: BatchItem, kind: DecisionKind, now: datetime) -> None:
    """Refuse the whole batch decision unless ``row`` is pending exactly as listed."""
    attempted = kind.value
    if row.canary is not None:
        raise TicketNotFound(row.id)
    if row.status == TicketStatus.PENDING.value and now >= row.expires_at:
        raise DeadlinePassed(row.id, attempted, row.status,
                             detail=f"its deadline {row.expires_at.isoformat()} has passed")
    if not TicketStatus(row.status).is_open:  # decided on its own since the card showed it
        raise transition_refused(row, Event.APPROVE if kind == DecisionKind.APPROVE
                                 else Event.REJECT)
    if (row.status != TicketStatus.PENDING.value or row.version != item.version
            or row.final_args_hash != item.args_hash):
        raise ChangedSinceSeen(row.id, attempted, row.status, seen=item.version,
                               current=row.version)
