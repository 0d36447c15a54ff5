"""What agents proposed, as recorded: the input for replaying a policy over past requests.

Tickets hold every proposal that was allowed or reviewed; a proposal policy denied leaves only
its ``denied`` audit event (nothing was created), so both are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from store.ledger import Ledger
from store.tables import TicketRow


class RecordedProposal(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str | None
    """``None`` for a proposal policy denied (no ticket was created)."""
    action: str
    args: dict[str, Any]
    requested_by: str
    confidence: float | None
    at: datetime
    policy_version: str | None


def recorded_proposals(ledger: Ledger, since: datetime, *, batch: int = 500
                       ) -> Iterator[RecordedProposal]:
    """Every proposal recorded since ``since``: tickets (oldest first), then denials."""
    last = ""
    while True:
        stmt = (select(TicketRow).where(TicketRow.created_at >= since, TicketRow.id > last)
                .order_by(TicketRow.id).limit(batch))
        with ledger.transactions(write=False) as s:
            rows = s.execute(stmt).scalars().all()
            found = [_from_ticket(r) for r in rows]
        if not found:
            break
        last = rows[-1].id
        yield from found
    for event in ledger.audit_events(since=since):
        if event.kind == "denied" and isinstance(event.data.get("action"), str):
            yield RecordedProposal(
                ticket_id=None, action=event.data["action"],
                args=event.data.get("args") or {},
                requested_by=str(event.data.get("requested_by") or event.actor),
                confidence=event.data.get("confidence"), at=event.at,
                policy_version=event.data.get("policy_version"))


def _from_ticket(row: TicketRow) -> RecordedProposal:
    return RecordedProposal(
        ticket_id=row.id, action=row.action, args=row.args, requested_by=row.requested_by,
        confidence=row.confidence, at=row.created_at, policy_version=row.policy_version)
