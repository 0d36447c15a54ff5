"""Canary requests in the ledger: :class:`CanaryStore` works on a
:class:`~store.ledger.Ledger`'s database, as the sweep's store does.

A canary is a test request written to be rejected, injected among a route's real requests so
that its reviewers' attention can be measured. The ledger marks it (``tickets.canary``) and
keeps it away from every agent and executor:

- ``start_execution`` refuses it (audited ``execution_refused``) as if it did not exist;
- the agent's reads (``get_ticket(..., for_agent=True)``, ``status_of(..., for_agent=True)``)
  and the agent's writes (``cancel``, ``answer_info``) do not find it;
- the first decision on it settles it: an approval or edit is a **miss**, a rejection or a
  take-over a **catch**; either way it is then closed (``cancelled``), so nothing is left that
  could ever run.

Draws are exactly once across replicas: :meth:`CanaryStore.take_undrawn` marks the real
requests it hands out (``canary_drawn``) in the transaction that reads them, skipping rows
another sweeper has locked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store import audit, tickets
from store.convert import to_ticket
from store.db import Transactions, now_of
from store.errors import TicketNotFound
from store.ledger import Ledger
from store.models import Ticket, TicketStatus
from store.states import Event
from store.tables import MessageRow, TicketRow
from store.tickets import SYSTEM_ACTOR, Draft
from store.transition import transition

_ROUTE = TicketRow.route["name"].as_string()
CATCH, MISS = "caught", "missed"


class Draw(BaseModel):
    """A real request the canary draw considered, and its route."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: str
    route: str


class CanaryStore:
    """The canaries' reads and writes, on the ledger's database. Thread-safe."""

    def __init__(self, ledger: Ledger) -> None:
        self._tx: Transactions = ledger.transactions
        self._audit_key = ledger.audit_key

    def _audit(self, s: Session, ticket_id: str, kind: str, actor: str, at: datetime, *,
               new_ticket: bool = False, **data: Any) -> None:
        """Append to ``ticket_id``'s chain: the caller holds its row lock (or created it)."""
        audit.append(s, ticket_id=ticket_id, kind=kind, actor=actor, data=data, at=at,
                     key=self._audit_key, new_ticket=new_ticket)

    def take_undrawn(self, routes: list[str], *, since: datetime,
                     limit: int = 200) -> list[Draw]:
        """Real requests on ``routes`` sent to review since ``since`` and never drawn for:
        mark them drawn and hand them out (oldest first), each to exactly one caller."""
        if not routes:
            return []
        stmt = (select(TicketRow.id, _ROUTE)
                .where(TicketRow.canary_drawn.is_(None), TicketRow.canary.is_(None),
                       TicketRow.created_at >= since, _ROUTE.in_(routes),
                       TicketRow.decided_by.is_(None) | (TicketRow.decided_by != SYSTEM_ACTOR)
                       | (TicketRow.decided_at != TicketRow.created_at))
                .order_by(TicketRow.created_at, TicketRow.id).limit(limit)
                .with_for_update(skip_locked=True))
        with self._tx() as s:
            rows = s.execute(stmt).all()
            if rows:
                s.execute(update(TicketRow).where(TicketRow.id.in_([r[0] for r in rows]))
                          .values(canary_drawn=True),
                          execution_options={"synchronize_session": False})
            return [Draw(ticket_id=tid, route=str(route)) for tid, route in rows]

    def latest_args_schema(self, action: str) -> dict[str, Any] | None:
        """The argument schema the agent sent with its latest real request for ``action``
        (a canary's card and edit form then look like that tool's), or None."""
        stmt = (select(TicketRow.args_schema)
                .where(TicketRow.action == action, TicketRow.canary.is_(None),
                       TicketRow.args_schema.is_not(None))
                .order_by(TicketRow.created_at.desc()).limit(1))
        with self._tx(write=False) as s:
            found = s.execute(stmt).scalar_one_or_none()
            return dict(found) if isinstance(found, dict) else None

    def create_canary(self, draft: Draft, *, name: str, lesson: str) -> Ticket:
        """Open a canary: an ordinary-looking pending ticket, marked in the ledger.
        ``draft`` may be a function of the creation time, as for ``create_ticket``."""
        with self._tx() as s:
            now = now_of(s)
            new = tickets.resolve(draft, now)
            ticket = tickets.insert_ticket(s, new, now)
            s.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                      .values(canary=name, canary_lesson=lesson, canary_drawn=True),
                      execution_options={"synchronize_session": False})
            self._audit(s, ticket.id, "created", SYSTEM_ACTOR, now, new_ticket=True,
                        **tickets.created_data(new, ticket), canary=name)
            return ticket.model_copy(update={"canary": name, "canary_lesson": lesson})

    def settle_canary(self, ticket_id: str, *, reviewer: str, result: str) -> Ticket:
        """Record a catch or miss by ``reviewer`` and close the canary (if still open or
        approved), so that nothing is left that could run."""
        with self._tx() as s:
            row = s.execute(select(TicketRow).where(TicketRow.id == ticket_id,
                                                    TicketRow.canary.is_not(None))
                            .with_for_update()).scalar_one_or_none()
            if row is None:
                raise TicketNotFound(ticket_id)
            now = now_of(s)
            self._audit(s, ticket_id, f"canary_{result}", reviewer, now, canary=row.canary)
            if TicketStatus(row.status).is_open or row.status == TicketStatus.APPROVED:
                transition(s, row, Event.CANCEL, decided_by=SYSTEM_ACTOR, decided_at=now,
                           next_action_at=None)
                s.expire(row)
                self._audit(s, ticket_id, "cancelled", SYSTEM_ACTOR, now,
                            reason="a canary (test request): closed after its first decision")
            messages = s.execute(select(MessageRow).where(MessageRow.ticket_id == ticket_id)
                                 .order_by(MessageRow.id)).scalars().all()
            return to_ticket(row, messages)


__all__ = ["CATCH", "MISS", "CanaryStore", "Draw"]
