"""The two writes behind every ``ApprovalClient.request()``: opening a ticket and pointing it
at its card.

Both are plain Core statements, and both build their result from what they wrote instead of
reading the row back: a request pays for its round trips to the database, so it makes as
few as the record needs (see docs/benchmarks.md, request overhead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from store.convert import to_ticket
from store.db import db_now
from store.errors import IdempotencyConflict, OpenRequestsCapped, TicketNotFound
from store.models import NewTicket, SlackRef, Ticket, TicketStatus, args_hash, new_ticket_id
from store.tables import AgentRow, MessageRow, TicketRow

SYSTEM_ACTOR = "signoff"
TICKETS = cast(Table, TicketRow.__table__)
MESSAGES = cast(Table, MessageRow.__table__)
AGENTS = cast(Table, AgentRow.__table__)
#: A request waiting for a decision: what an agent's cap of open requests counts.
OPEN = (TicketStatus.PENDING.value, TicketStatus.NEEDS_INFO.value)

#: What ``Ledger.create_ticket`` accepts: a ticket, or a function of the creation time (the
#: database's clock, read inside the creating transaction) that returns one, so deadlines
#: planned from it need no clock reading of their own.
Draft = NewTicket | Callable[[datetime], NewTicket]
_INSERT_TICKET = insert(TICKETS)


@dataclass(frozen=True)
class OpenCap:
    """At most ``limit`` requests of ``agent`` open at once (its ``--max-pending``)."""

    agent: str
    limit: int


def count_open(agent: str, up_to: int | None = None) -> Any:
    """The statement counting ``agent``'s open requests; only ``up_to`` of them (all a cap
    of ``up_to`` needs to know), so the count costs no more for an agent with a long queue."""
    open_ = select(TICKETS.c.id).where(
        TICKETS.c.agent == agent, TICKETS.c.status.in_(OPEN),
        TICKETS.c.canary.is_(None))  # a canary is no agent's request
    if up_to is not None:
        open_ = open_.limit(up_to)
    return select(func.count()).select_from(open_.subquery())


def check_open_cap(s: Session, cap: OpenCap) -> None:
    """Refuse one more open request past the cap (:class:`OpenRequestsCapped`). The agent's
    row is locked first (PostgreSQL; SQLite's write transactions run one at a time anyway),
    so two requests of one agent count in turn and cannot both slip under the cap."""
    s.execute(select(AGENTS.c.name).where(AGENTS.c.name == cap.agent).with_for_update())
    if s.execute(count_open(cap.agent, cap.limit)).scalar_one() >= cap.limit:
        raise OpenRequestsCapped(cap.agent, cap.limit)


def resolve(draft: Draft, created_at: datetime) -> NewTicket:
    return draft if isinstance(draft, NewTicket) else draft(created_at)


def insert_ticket(s: Session, new: NewTicket, now: datetime) -> Ticket:
    """INSERT the ticket row, created at ``now``; return the ticket it is."""
    ticket = _ticket(new, now)
    s.execute(_INSERT_TICKET, _row_values(new, ticket))
    return ticket


def created_data(new: NewTicket, ticket: Ticket) -> dict[str, Any]:
    """The ``created`` audit event's data."""
    return {"action": new.action, "args": new.args, "args_hash": ticket.args_hash,
            "status": ticket.status.value, "tier": ticket.tier.value,
            "route": new.route.model_dump(mode="json"), "review_type": ticket.review_type.value,
            "policy_version": new.policy_version, "policy_rule": new.policy_rule,
            "requested_by": new.requested_by, "expires_at": new.expires_at.isoformat()}


def _ticket(new: NewTicket, now: datetime) -> Ticket:
    digest = args_hash(new.args)
    approved = new.status == TicketStatus.APPROVED
    return Ticket(
        id=new_ticket_id(), idempotency_key=new.idempotency_key, action=new.action,
        args=new.args, args_hash=digest, final_args=new.args, final_args_hash=digest,
        review_type=new.review_type, summary=new.summary, reason=new.reason,
        evidence=new.evidence, confidence=new.confidence, requested_by=new.requested_by,
        agent=new.agent, run_id=new.run_id, tier=new.tier, route=new.route,
        policy_version=new.policy_version, policy_rule=new.policy_rule, status=new.status,
        version=1, approvals=(), decided_by=SYSTEM_ACTOR if approved else None,
        decided_at=now if approved else None, created_at=now, expires_at=new.expires_at,
        next_action_at=new.next_action_at, escalation_level=0, escalation_loop=0,
        escalation=new.escalation, args_schema=new.args_schema, card=None,
    )


def _row_values(new: NewTicket, t: Ticket) -> dict[str, Any]:
    return {
        "id": t.id, "idempotency_key": t.idempotency_key, "requested_by": t.requested_by,
        "action": t.action, "args": new.args, "args_hash": t.args_hash,
        "final_args": new.args, "final_args_hash": t.final_args_hash,
        "review_type": t.review_type.value, "summary": t.summary, "reason": t.reason,
        "evidence": [e.model_dump(mode="json") for e in t.evidence],
        "confidence": t.confidence, "agent": t.agent, "run_id": t.run_id, "tier": t.tier.value,
        "route": t.route.model_dump(mode="json"), "policy_version": t.policy_version,
        "policy_rule": t.policy_rule, "status": t.status.value, "version": t.version,
        "approvals": [], "decided_by": t.decided_by, "decided_at": t.decided_at,
        "created_at": t.created_at, "expires_at": t.expires_at,
        "next_action_at": t.next_action_at, "escalation_level": 0, "escalation_loop": 0,
        "escalation": new.escalation, "args_schema": new.args_schema,
    }


def same_request(action: str, digest: str, ticket_id: str, new: NewTicket) -> None:
    """A reused idempotency key must name the same request: same action, same arguments
    (by their canonical hash). Anything else is refused, as payment APIs do."""
    key = new.idempotency_key or ""
    if action != new.action:
        raise IdempotencyConflict(key, ticket_id, f"action {action!r}, not {new.action!r}")
    if digest != args_hash(new.args):
        raise IdempotencyConflict(key, ticket_id, "other arguments")


# -- the card ---------------------------------------------------------------------------

_WATCHED = (TICKETS.c.status, TICKETS.c.version, TICKETS.c.escalation_level,
            TICKETS.c.escalation_loop, TICKETS.c.next_action_at)
# Built once: a statement object also memoises its cache key, so reuse skips both steps.
_SET_CARD = (
    update(TICKETS).where(TICKETS.c.id == bindparam("tid"))
    .values(card_channel=bindparam("channel"), card_ts=bindparam("ts"),
            shown_version=bindparam("shown"))
    .returning(db_now(), select(func.count()).select_from(MESSAGES)
               .where(MESSAGES.c.ticket_id == bindparam("tid")).scalar_subquery(), *_WATCHED)
)
_INSERT_MESSAGE = insert(MESSAGES)
_MARK_SHOWN = (update(TICKETS).where(TICKETS.c.id == bindparam("tid"),
                                     TICKETS.c.version == bindparam("b_version"))
               .values(shown_version=bindparam("b_version")))
_MESSAGES_OF = (select(MESSAGES).where(MESSAGES.c.ticket_id == bindparam("tid"))
                .order_by(MESSAGES.c.id))
_TICKET_BY_ID = select(TICKETS).where(TICKETS.c.id == bindparam("tid"))


def messages(conn: Connection, ticket_id: str) -> list[Row[Any]]:
    """The ticket's messages, oldest first."""
    return list(conn.execute(_MESSAGES_OF, {"tid": ticket_id}))


def set_card(s: Session, ticket: Ticket, ref: SlackRef) -> tuple[datetime, bool]:
    """Point ``ticket`` at its card with one UPDATE, which also locks the row.

    Returns the database's clock and whether the row is still as ``ticket`` shows it (same
    status, version, escalation cursor and messages), read by the same statement.
    """
    found = s.execute(_SET_CARD, {"tid": ticket.id, "channel": ref.channel, "ts": ref.ts,
                                  "shown": ticket.version}).one_or_none()
    if found is None:
        raise TicketNotFound(ticket.id)
    now, count, *current = found
    seen = (ticket.status.value, ticket.version, ticket.escalation_level,
            ticket.escalation_loop, ticket.next_action_at)
    return now, count == len(ticket.messages) and tuple(current) == seen


def mark_shown(conn: Connection, ticket_id: str, version: int) -> bool:
    """Record that the ticket's live surfaces show ``version``, if it is still at it."""
    result = conn.execute(_MARK_SHOWN, {"tid": ticket_id, "b_version": version})
    return bool(result.rowcount == 1)


def insert_message(s: Session, ticket_id: str, ref: SlackRef, now: datetime) -> None:
    s.execute(_INSERT_MESSAGE, {"ticket_id": ticket_id, "role": ref.role,
                                "channel": ref.channel, "ts": ref.ts, "user": ref.user,
                                "epoch": ref.epoch, "at": now})


# -- reading --------------------------------------------------------------------------------

_AGENT_TICKET = _TICKET_BY_ID.where(TICKETS.c.canary.is_(None))


def read_ticket(conn: Connection, ticket_id: str, *, for_agent: bool = False) -> Ticket:
    """The ticket and its messages, by two Core statements in ``conn``'s transaction;
    ``for_agent``: an agent's read, which never finds a canary."""
    row = conn.execute(_AGENT_TICKET if for_agent else _TICKET_BY_ID, {"tid": ticket_id}
                       ).one_or_none()
    if row is None:
        raise TicketNotFound(ticket_id)
    return to_ticket(row, messages(conn, ticket_id))
