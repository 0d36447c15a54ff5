"""Break-glass in the ledger (mixed into ``Ledger``): a responder approves a pending request
alone, with a justification; a second person witnesses it later, or the sweep escalates it.

Every operation is one transaction under the ticket's row lock, with its audit event:

- :meth:`BreakGlassMixin.break_glass`: the ticket becomes ``approved`` (event
  ``break_glass``, bound to the hash of the arguments the responder saw, at the version
  they saw), a ``break_glass`` decision and the break-glass record are written;
- :meth:`BreakGlassMixin.witness`: a second person (never the responder) acknowledges it
  (``break_glass_witnessed``), which ends any escalation;
- :meth:`BreakGlassMixin.escalate_unwitnessed`: the sweep moves an unwitnessed one to the
  next level of its chain, once per level whatever the number of replicas
  (``break_glass_unwitnessed``).

Who may break glass and on which rules is the caller's judgement (policy and Slack
authority live outside the store); the ledger enforces what it can see: an open ticket, the
version seen, its deadline, a justification, and never the requester unless allowed. "The
same person" includes anyone an active delegation makes one with the responder or witness,
read share-locked in the same transaction, so a delegation made meanwhile cannot slip past
the caller's earlier check.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from store import delegation_check
from store.convert import to_decision, to_ticket
from store.db import Transactions
from store.errors import ChangedSinceSeen, DeadlinePassed, TicketNotFound, TransitionRefused
from store.inbox import CLICK_MAX_AGE, settle
from store.models import (
    MAX_JUSTIFICATION,
    AuditEvent,
    BreakGlass,
    Decision,
    DecisionKind,
    SlackRef,
    Ticket,
    TicketStatus,
)
from store.states import Event, next_status
from store.tables import BreakGlassRow, DecisionRow, TicketRow
from store.transition import transition, transition_refused


class BreakGlassTerms(BaseModel):
    """What policy allows for this break-glass (worked out by the caller from config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    witness_within: timedelta
    allow_self: bool = False
    policy_version: str


def to_break_glass(row: BreakGlassRow) -> BreakGlass:
    return BreakGlass(
        ticket_id=row.ticket_id, responder=row.responder, justification=row.justification,
        rule=row.rule, broken_at=row.broken_at, witness_due_at=row.witness_due_at,
        witnessed_by=row.witnessed_by, witnessed_at=row.witnessed_at,
        escalation_level=row.escalation_level, next_escalation_at=row.next_escalation_at,
        security_channel=row.security_channel, security_ts=row.security_ts)


class BreakGlassMixin:
    """The break-glass half of the ledger. ``Ledger`` supplies the plumbing below."""

    if TYPE_CHECKING:
        _tx: Transactions
        def _now(self, session: Session) -> datetime: ...
        @staticmethod
        def _lock(session: Session, ticket_id: str, *, for_agent: bool = False
                  ) -> TicketRow: ...
        def _audit(self, s: Session, ticket_id: str | None, kind: str, actor: str,
                   at: datetime, *, new_ticket: bool = False, **data: Any) -> AuditEvent: ...
        @staticmethod
        def _messages(s: Session, ticket_id: str) -> Any: ...

    def break_glass(self, ticket_id: str, *, responder: str, justification: str,
                    terms: BreakGlassTerms, expected_version: int,
                    click_id: int | None = None, click_max_age: timedelta = CLICK_MAX_AGE
                    ) -> tuple[Ticket, Decision, BreakGlass]:
        """Approve an open ticket on ``responder``'s word alone. Refused (typed, nothing
        written) when it is decided, past its deadline, changed since ``expected_version``,
        a canary, without a justification, or the requester's own (unless allowed)."""
        text = justification.strip()[:MAX_JUSTIFICATION]
        with self._tx() as s:
            row = self._lock(s, ticket_id)
            now = self._now(s)
            _check(row, now, responder, text, terms, expected_version)
            if not terms.allow_self and row.requested_by in one_person(s, responder, now):
                raise TransitionRefused(ticket_id, "break_glass", row.status,
                                        detail="nobody breaks glass on a request made on "
                                               "their behalf or their delegation partner's")
            approvals = [*row.approvals] + ([] if responder in row.approvals else [responder])
            transition(s, row, Event.BREAK_GLASS, approvals=approvals, decided_by=responder,
                       decided_at=now, next_action_at=None)
            s.expire(row)
            decision = DecisionRow(ticket_id=ticket_id, reviewer=responder,
                                   kind=DecisionKind.BREAK_GLASS.value, reason=text,
                                   args=None, args_hash=row.final_args_hash, at=now,
                                   policy_version=terms.policy_version)
            due = now + terms.witness_within
            record = BreakGlassRow(ticket_id=ticket_id, responder=responder, justification=text,
                                   rule=terms.rule, broken_at=now, witness_due_at=due,
                                   escalation_level=0, next_escalation_at=due)
            s.add_all([decision, record])
            s.flush()
            if click_id is not None:
                settle(s, click_id, now, decision.id, click_max_age)
            self._audit(s, ticket_id, "break_glass", responder, now,
                        decision=DecisionKind.BREAK_GLASS.value, justification=text,
                        args_hash=row.final_args_hash, status=row.status,
                        approvals=list(row.approvals), rule=terms.rule,
                        allow_self=terms.allow_self, witness_due_at=due.isoformat(),
                        policy_version=terms.policy_version)
            return (to_ticket(row, self._messages(s, ticket_id)), to_decision(decision),
                    to_break_glass(record))

    def break_glass_of(self, ticket_id: str) -> BreakGlass | None:
        with self._tx(write=False) as s:
            row = s.get(BreakGlassRow, ticket_id)
            return None if row is None else to_break_glass(row)

    def record_security_post(self, ticket_id: str, ref: SlackRef) -> None:
        """Where the break-glass was announced (its Witness button lives there)."""
        with self._tx() as s:
            s.execute(update(BreakGlassRow).where(BreakGlassRow.ticket_id == ticket_id)
                      .values(security_channel=ref.channel, security_ts=ref.ts))

    def witness(self, ticket_id: str, *, witness: str) -> tuple[Ticket, BreakGlass]:
        """``witness`` acknowledges the break-glass on ``ticket_id``: ends its escalation.
        Refused when there is none, it was witnessed already, or by the responder."""
        with self._tx() as s:
            ticket = self._lock(s, ticket_id)
            row = s.get(BreakGlassRow, ticket_id, with_for_update=True)
            if row is None or ticket.canary is not None:
                raise TicketNotFound(ticket_id)
            if row.witnessed_by is not None:
                raise TransitionRefused(ticket_id, "witness", ticket.status,
                                        detail=f"{row.witnessed_by} witnessed it already")
            now = self._now(s)
            same = one_person(s, witness, now)
            if row.responder in same or ticket.requested_by in same:
                raise TransitionRefused(ticket_id, "witness", ticket.status,
                                        detail="the responder and the requester (or anyone a "
                                               "delegation makes one with them) cannot "
                                               "witness this break-glass")
            late = now > row.witness_due_at or row.escalation_level > 0
            row.witnessed_by, row.witnessed_at, row.next_escalation_at = witness, now, None
            s.flush()
            self._audit(s, ticket_id, "break_glass_witnessed", witness, now,
                        responder=row.responder, late=late,
                        escalation_level=row.escalation_level)
            return to_ticket(ticket, self._messages(s, ticket_id)), to_break_glass(row)

    def due_unwitnessed(self, at: datetime, *, limit: int = 50) -> list[BreakGlass]:
        """Unwitnessed break-glass whose next escalation is due at ``at``."""
        with self._tx(write=False) as s:
            rows = s.execute(select(BreakGlassRow).where(
                BreakGlassRow.witnessed_by.is_(None),
                BreakGlassRow.next_escalation_at <= at)
                .order_by(BreakGlassRow.next_escalation_at).limit(limit)).scalars().all()
            return [to_break_glass(r) for r in rows]

    def escalate_unwitnessed(self, ticket_id: str, *, level: int,
                             next_at: datetime | None, targets: list[str],
                             actor: str = "signoff") -> tuple[Ticket, BreakGlass] | None:
        """Record that ``level`` of the chain is DM'd about the unwitnessed break-glass
        (before the DMs go out: at most once); None when another sweeper did, or it was
        witnessed meanwhile. ``next_at``: when the next level is due (None: the last)."""
        with self._tx() as s:
            ticket = self._lock(s, ticket_id)
            now = self._now(s)
            done = s.execute(update(BreakGlassRow).where(
                BreakGlassRow.ticket_id == ticket_id, BreakGlassRow.witnessed_by.is_(None),
                BreakGlassRow.escalation_level == level - 1)
                .values(escalation_level=level, next_escalation_at=next_at),
                execution_options={"synchronize_session": False})
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = s.get(BreakGlassRow, ticket_id, populate_existing=True)
            assert row is not None
            self._audit(s, ticket_id, "break_glass_unwitnessed", actor, now, level=level,
                        targets=targets, responder=row.responder,
                        witness_due_at=row.witness_due_at.isoformat())
            return to_ticket(ticket, self._messages(s, ticket_id)), to_break_glass(row)

    def break_glass_counts(self, since: datetime | None = None) -> dict[str, int]:
        """Break-glass since ``since`` (all time when None): ``total``, ``witnessed``,
        ``witnessed_late`` (after its deadline or its escalation), ``unwitnessed`` (never
        witnessed yet) and ``escalated`` (DM'd along their chain for want of a witness)."""
        with self._tx(write=False) as s:
            stmt = select(
                func.count(),
                func.count(BreakGlassRow.witnessed_by),
                func.sum(_flag(and_(BreakGlassRow.witnessed_at.is_not(None), or_(
                    BreakGlassRow.witnessed_at > BreakGlassRow.witness_due_at,
                    BreakGlassRow.escalation_level > 0)))),
                func.sum(_flag(BreakGlassRow.escalation_level > 0)))
            if since is not None:
                stmt = stmt.where(BreakGlassRow.broken_at >= since)
            total, witnessed, late, escalated = s.execute(stmt).one()
        return {"total": int(total), "witnessed": int(witnessed),
                "witnessed_late": int(late or 0), "unwitnessed": int(total) - int(witnessed),
                "escalated": int(escalated or 0)}


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def one_person(s: Session, who: str, now: datetime) -> frozenset[str]:
    """``who`` and everyone an active delegation makes one person with them, the delegation
    rows share-locked until the transaction ends."""
    return delegation_check.one_person(delegation_check.links(s.connection(), (), who), who, now)


def _check(row: TicketRow, now: datetime, responder: str, justification: str,
           terms: BreakGlassTerms, expected_version: int) -> None:
    """Why break-glass may not happen on the locked ``row`` (raises), else nothing."""
    if row.canary is not None:
        raise TransitionRefused(row.id, "break_glass", row.status,
                                detail="break-glass is not available for this request")
    if next_status(TicketStatus(row.status), Event.BREAK_GLASS) is None:
        raise transition_refused(row, Event.BREAK_GLASS)
    if now >= row.expires_at:
        raise DeadlinePassed(row.id, "break_glass", row.status,
                             detail=f"its deadline {row.expires_at.isoformat()} has passed")
    if expected_version != row.version:
        raise ChangedSinceSeen(row.id, "break_glass", row.status, seen=expected_version,
                               current=row.version)
    if not justification:
        raise TransitionRefused(row.id, "break_glass", row.status,
                                detail="a justification is required")
    if responder == row.requested_by and not terms.allow_self:
        raise TransitionRefused(row.id, "break_glass", row.status,
                                detail="nobody breaks glass on a request made on their behalf")

