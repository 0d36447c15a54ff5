"""A reviewer's decision as a few plain Core statements, all under the ticket's row lock.

``Ledger.record_decision`` holds SQLite's only write lock (and the ticket's row lock on
PostgreSQL) from its first statement to its commit, so every statement it makes is also
latency for every other writer. The transaction is:

1. lock the row and read the database's clock after the lock is held (one statement: on
   PostgreSQL the clock is read outside the locking subquery, so a wait for the lock is not
   hidden in ``now``);
2. the delegations the decision's authority relies on, read (and on PostgreSQL share-locked,
   :mod:`store.delegation_check`) by the same clock: any that ended since the click
   was authorised refuses the decision; the delegations that link the reviewer to others now
   widen who they count as (only read when it matters: a delegate's or fallback's decision,
   or an approval after others);
3. the checks, on the locked row: deadline, state machine, version binding, distinct
   approvers (with those identities);
4. the guarded UPDATE (status, version and deadline by the database's clock), which returns
   the row as it now is: no second read;
5. the decision row, the click settled by one guarded UPDATE, the audit event (and the
   grant), and the ticket's messages.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, select
from sqlalchemy.orm import Session

from store import delegation_check
from store.db import db_now
from store.decisions import IN_OWN_RIGHT, Capacity, DecisionUpdate, Reroute, decision_update
from store.errors import ChangedSinceSeen, DeadlinePassed, DelegationEnded, TicketNotFound
from store.models import Decision, DecisionKind, TicketStatus
from store.states import next_status
from store.tables import DecisionRow
from store.tickets import TICKETS
from store.transition import guarded_update, transition_refused

_DECISIONS = cast(Table, DecisionRow.__table__)
#: What the checks read of the locked row (the full row comes back from the UPDATE): not
#: the arguments, evidence and schema, which can be large JSON to decode for nothing.
_CHECKED = ("id", "status", "version", "expires_at", "decided_by", "decided_at", "route",
            "approvals", "acting_for", "final_args_hash", "escalation_epoch")
_LOCKED = (select(*(TICKETS.c[name] for name in _CHECKED))
           .where(TICKETS.c.id == bindparam("tid")).with_for_update().subquery("locked"))
# The clock outside the locking subquery: PostgreSQL computes it once the lock is held.
_LOCK = select(_LOCKED, db_now().label("now"))
_INSERT_DECISION = insert(_DECISIONS).returning(_DECISIONS.c.id)
_APPROVING = (DecisionKind.APPROVE, DecisionKind.EDIT)


def lock(s: Session, ticket_id: str) -> tuple[Row[Any], datetime]:
    """The locked row and the database's clock, read after the lock was taken."""
    row = s.connection().execute(_LOCK, {"tid": ticket_id}).one_or_none()
    if row is None:
        raise TicketNotFound(ticket_id)
    now = row.now
    assert isinstance(now, datetime)
    return row, now


def authority(s: Session, row: Row[Any], now: datetime, reviewer: str, kind: DecisionKind,
              capacity: Capacity) -> Capacity:
    """``capacity`` as it stands at ``now``: refused (:class:`DelegationEnded`) when a
    delegation it relies on is no longer active, or when it acts on someone's behalf without
    an active delegation from them to ``reviewer``; otherwise with ``identities`` widened by
    every delegation linking ``reviewer`` to someone now (one made since the click counts)."""
    if TicketStatus(row.status).is_open and now >= row.expires_at:
        return capacity  # check() refuses it, and the bot expires the ticket
    counted = bool(row.approvals) or bool(row.acting_for)
    if not (capacity.delegations or capacity.on_behalf_of is not None
            or (kind in _APPROVING and counted)):
        return capacity  # in one's own right, and nobody to be counted twice with
    found = delegation_check.links(s.connection(), capacity.delegations, reviewer)
    active = {d.id: d for d in found if delegation_check.active(d, now)}
    ended = sorted(capacity.delegations - active.keys())
    lends = capacity.on_behalf_of is None or any(
        active[i].principal == capacity.on_behalf_of and active[i].delegate == reviewer
        for i in capacity.delegations if i in active)
    if ended or not lends:
        raise DelegationEnded(row.id, kind.value, row.status, delegation=(
            ended[0] if ended else min(capacity.delegations, default=None)))
    linked = delegation_check.one_person(active.values(), reviewer, now)
    return replace(capacity, identities=capacity.identities | linked)


def check(row: Row[Any], now: datetime, reviewer: str, kind: DecisionKind,
          args: dict[str, Any] | None, reroute: Reroute | None,
          expected_version: int | None, capacity: Capacity) -> DecisionUpdate:
    """What the decision does to the locked ``row``, or the typed refusal (in this order:
    the deadline, a second approval by one person, the state machine, the version seen)."""
    if TicketStatus(row.status).is_open and now >= row.expires_at:
        raise DeadlinePassed(row.id, kind.value, row.status,
                             detail=f"its deadline {row.expires_at.isoformat()} has passed")
    update = decision_update(row, reviewer, kind, args, reroute, capacity)
    if next_status(TicketStatus(row.status), update.event) is None:
        raise transition_refused(row, update.event)
    if expected_version is not None and expected_version != row.version:
        raise ChangedSinceSeen(row.id, update.event.value, row.status,
                               seen=expected_version, current=row.version)
    return update


def apply(s: Session, row: Row[Any], now: datetime, update: DecisionUpdate,
          reviewer: str) -> Row[Any]:
    """The guarded UPDATE; the row as it now is."""
    values = dict(update.values)
    if update.final:
        values.update(decided_by=reviewer, decided_at=now)
    return guarded_update(s, row, update.event, **values)


def insert_decision(s: Session, after: Row[Any], now: datetime, update: DecisionUpdate, *,
                    reviewer: str, kind: DecisionKind, reason: str | None,
                    policy_version: str | None, capacity: Capacity | None) -> Decision:
    values = {"ticket_id": after.id, "reviewer": reviewer, "kind": kind.value,
              "reason": reason, "args": update.decision_args,
              "args_hash": update.decision_hash, "at": now,
              "policy_version": policy_version or after.policy_version,
              "on_behalf_of": (capacity or IN_OWN_RIGHT).on_behalf_of}
    decision_id = s.connection().execute(_INSERT_DECISION, values).scalar_one()
    return Decision(id=decision_id, ticket_id=after.id, reviewer=reviewer, kind=kind,
                    reason=reason, args=update.decision_args, args_hash=update.decision_hash,
                    at=now, policy_version=values["policy_version"],
                    on_behalf_of=values["on_behalf_of"])
