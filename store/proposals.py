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
from store.tables import DecisionRow, TicketRow
from store.tickets import SYSTEM_ACTOR


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
        stmt = (select(TicketRow).where(TicketRow.created_at >= since, TicketRow.id > last,
                                        TicketRow.canary.is_(None))
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


class ReviewedRequest(BaseModel):
    """A request a human reviewed, and how that ended (for ``signoff policy suggest``)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    action: str
    args: dict[str, Any]
    rule: str | None
    created_at: datetime
    outcome: str
    """approved, edited, rejected, expired, taken_over, cancelled or open."""
    review_seconds: float | None
    """From the request to its first decision."""
    approvers: tuple[str, ...]


_ENDED = {"rejected": "rejected", "expired": "expired", "taken_over": "taken_over",
          "cancelled": "cancelled", "pending": "open", "needs_info": "open"}


def reviewed_requests(ledger: Ledger, since: datetime) -> list[ReviewedRequest]:
    """Every request created since ``since`` that went to a human (allowed ones are not)."""
    with ledger.transactions(write=False) as s:
        # Canaries are tests of reviewers, not requests of agents: never evidence here.
        tickets = s.execute(select(TicketRow).where(TicketRow.created_at >= since,
                                                    TicketRow.canary.is_(None))
                            .order_by(TicketRow.created_at)).scalars().all()
        decisions: dict[str, list[DecisionRow]] = {}
        for d in s.execute(select(DecisionRow).join(TicketRow)
                           .where(TicketRow.created_at >= since)
                           .order_by(DecisionRow.id)).scalars():
            decisions.setdefault(d.ticket_id, []).append(d)
        return [r for r in (_reviewed(t, decisions.get(t.id, [])) for t in tickets)
                if r is not None]


def _reviewed(row: TicketRow, decisions: list[DecisionRow]) -> ReviewedRequest | None:
    if not decisions and row.decided_by == SYSTEM_ACTOR and row.status not in _ENDED:
        return None  # policy allowed it: nobody reviewed it
    kinds = {d.kind for d in decisions}
    outcome = _ENDED.get(row.status) or ("edited" if "edit" in kinds else "approved")
    first = decisions[0].at if decisions else None
    return ReviewedRequest(
        ticket_id=row.id, action=row.action, args=row.args, rule=row.policy_rule,
        created_at=row.created_at, outcome=outcome,
        review_seconds=(first - row.created_at).total_seconds() if first else None,
        approvers=tuple(d.reviewer for d in decisions if d.kind == "approve"))
