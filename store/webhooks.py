"""Decision webhooks in the ledger: one row per (ticket, version) for an agent with a URL.

The row is written in the transaction that changes the ticket (so an event exists exactly
when its change commits) and its id, ``evt_<ticket>_<version>``, is the event id receivers
de-duplicate on. Any replica delivers: it leases due rows, posts, and records the result;
a failed post is retried with backoff for a day.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from store.db import db_now
from store.tables import AgentRow, TicketRow, WebhookDeliveryRow

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
GIVE_UP_AFTER = timedelta(hours=24)
_TABLE: Table = WebhookDeliveryRow.__table__  # type: ignore[assignment]
_SUBSCRIBED = (
    select(TicketRow.agent, TicketRow.status, TicketRow.version, TicketRow.action)
    .join(AgentRow, AgentRow.name == TicketRow.agent)
    .where(AgentRow.webhook_url.is_not(None), AgentRow.revoked_at.is_(None),
           TicketRow.canary.is_(None))  # a canary is no agent's request: it hears nothing
)
# Built once: every status change of every ticket runs the first, on a plain connection.
_SUBSCRIBED_TICKET = _SUBSCRIBED.where(TicketRow.id == bindparam("tid"))
_ENQUEUE = insert(_TABLE).values(status=PENDING, attempts=0, created_at=db_now(),
                                 next_attempt_at=db_now())


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    agent: str
    ticket_id: str
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None

    def body(self) -> dict[str, Any]:
        """What the receiver gets: Stripe's shape (id, type, created, data)."""
        return {"id": self.id, "type": self.event, "created": int(self.created_at.timestamp()),
                "data": self.payload}


def enqueue(s: Session, ticket_id: str) -> bool:
    """In the changing transaction: the event for the ticket's new state, if its agent
    has a webhook (True). Nothing for tickets of agents without one (False)."""
    conn = s.connection()
    found = conn.execute(_SUBSCRIBED_TICKET, {"tid": ticket_id}).one_or_none()
    if found is None:
        return False
    agent, status, version, action = found
    payload = {"ticket_id": ticket_id, "status": status, "version": version, "action": action}
    conn.execute(_ENQUEUE, {"id": f"evt_{ticket_id}_{version}", "agent": agent,
                            "ticket_id": ticket_id, "event": f"ticket.{status}",
                            "payload": json.dumps(payload)})
    return True


def to_delivery(row: WebhookDeliveryRow) -> Delivery:
    return Delivery(id=row.id, agent=row.agent, ticket_id=row.ticket_id, event=row.event,
                    payload=json.loads(row.payload), status=row.status, attempts=row.attempts,
                    created_at=row.created_at, next_attempt_at=row.next_attempt_at,
                    delivered_at=row.delivered_at, last_error=row.last_error)


def _due(now: datetime) -> Any:
    return (WebhookDeliveryRow.status == PENDING, WebhookDeliveryRow.next_attempt_at <= now,
            or_(WebhookDeliveryRow.claimed_until.is_(None),
                WebhookDeliveryRow.claimed_until <= now))


def any_due(s: Session, now: datetime) -> bool:
    return s.execute(select(WebhookDeliveryRow.id).where(*_due(now)).limit(1)).first() is not None


def claim_due(s: Session, now: datetime, *, limit: int, lease: timedelta) -> list[str]:
    """Lease due deliveries to this caller: nobody else posts them until the lease ends."""
    due = (select(WebhookDeliveryRow.id).where(*_due(now))
           .order_by(WebhookDeliveryRow.next_attempt_at).limit(limit))
    if s.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(s.execute(due).scalars())
    if ids:
        s.execute(update(_TABLE).where(and_(_TABLE.c.id.in_(ids)))
                  .values(claimed_until=now + lease))
    return ids


def backoff(attempts: int, base: timedelta) -> timedelta:
    """base, then twice as long after each failure, at most an hour."""
    return min(base * (2 ** max(attempts - 1, 0)), timedelta(hours=1))
