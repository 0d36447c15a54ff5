"""What ``GET /metrics`` reads from the ledger at scrape time.

Every figure is an aggregate query over the shared tables, so each replica reports the same
ledger-wide numbers (use ``max`` across instances, never ``sum``). Totals only ever grow:
decision rows, final statuses, escalation steps and audit events are never rewritten.
Canaries are left out of request and decision totals and counted on their own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Float

from store.errors import StoreUnavailable
from store.models import TicketStatus
from store.stats import CATCH_KINDS, MISS_KINDS
from store.tables import AuditRow, DecisionRow, EscalationStepRow, TicketRow
from store.tickets import SYSTEM_ACTOR

_ROUTE = TicketRow.route["name"].as_string()
_OPEN = [TicketStatus.PENDING.value, TicketStatus.NEEDS_INFO.value]
#: Decision kinds as the metrics name them.
DECISION_NAMES = {"approve": "approved", "edit": "approved_with_edits", "reject": "rejected",
                  "request_info": "info_requested", "take_over": "taken_over",
                  "break_glass": "break_glass"}


class seconds_between(FunctionElement[float]):
    """``later - earlier`` in seconds, on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    # julianday() is a double: round away its sub-millisecond noise.
    return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"


@compiles(seconds_between)
def _seconds_pg(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


class Count(BaseModel):
    """One labelled figure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    labels: dict[str, str]
    value: float


class Buckets(BaseModel):
    """A cumulative histogram for one label set: ``counts[i]`` values are <= ``bounds[i]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    labels: dict[str, str]
    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: int
    sum: float


class LedgerGauges:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with Session(self.engine) as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"database error: {exc}") from exc

    def db_now(self) -> datetime:
        from store.db import db_now

        with self._read() as s:
            now = s.execute(select(db_now())).scalar_one()
            assert isinstance(now, datetime)
            return now

    def requests(self) -> list[Count]:
        """Requests by outcome (allowed, review, denied), action, tier and route."""
        allowed = (TicketRow.decided_by == SYSTEM_ACTOR) & (
            TicketRow.decided_at == TicketRow.created_at)
        outcome = case((allowed, "allowed"), else_="review")
        stmt = (select(outcome, TicketRow.action, TicketRow.tier, _ROUTE, func.count())
                .where(TicketRow.canary.is_(None))
                .group_by(outcome, TicketRow.action, TicketRow.tier, _ROUTE))
        denied = (select(AuditRow.data).where(AuditRow.kind == "denied",
                                              AuditRow.ticket_id.is_(None)))
        with self._read() as s:
            out = [Count(labels={"outcome": o, "action": a, "tier": t, "route": str(r)},
                         value=n) for o, a, t, r, n in s.execute(stmt)]
            actions: dict[str, int] = {}
            for data in s.execute(denied).scalars():
                action = str(_json(data).get("action") or "?")
                actions[action] = actions.get(action, 0) + 1
        out += [Count(labels={"outcome": "denied", "action": a, "tier": "-", "route": "-"},
                      value=n) for a, n in sorted(actions.items())]
        return out

    def decisions(self) -> list[Count]:
        """Reviewer decisions by kind, route and tier, plus expiries and cancellations."""
        stmt = (select(DecisionRow.kind, _ROUTE, TicketRow.tier, func.count())
                .join(TicketRow, TicketRow.id == DecisionRow.ticket_id)
                .where(TicketRow.canary.is_(None))
                .group_by(DecisionRow.kind, _ROUTE, TicketRow.tier))
        closed = (select(TicketRow.status, _ROUTE, TicketRow.tier, func.count())
                  .where(TicketRow.canary.is_(None), TicketRow.status.in_(
                      [TicketStatus.EXPIRED.value, TicketStatus.CANCELLED.value]))
                  .group_by(TicketRow.status, _ROUTE, TicketRow.tier))
        with self._read() as s:
            rows = [(DECISION_NAMES.get(k, k), r, t, n) for k, r, t, n in s.execute(stmt)]
            rows += [(status, r, t, n) for status, r, t, n in s.execute(closed)]
        return [Count(labels={"kind": k, "route": str(r), "tier": t}, value=n)
                for k, r, t, n in rows]

    def time_to_decision(self, bounds: Sequence[float]) -> list[Buckets]:
        """Creation → decision for requests a human decided, per route and tier."""
        wait = seconds_between(TicketRow.decided_at, TicketRow.created_at)
        cols = [func.sum(case((wait <= b, 1), else_=0)) for b in bounds]
        stmt = (select(_ROUTE, TicketRow.tier, func.count(), func.coalesce(func.sum(wait), 0.0),
                       *cols)
                .where(TicketRow.canary.is_(None), TicketRow.decided_at.is_not(None),
                       TicketRow.decided_by != SYSTEM_ACTOR,  # not expired nor allowed
                       TicketRow.status != TicketStatus.CANCELLED.value)
                .group_by(_ROUTE, TicketRow.tier))
        with self._read() as s:
            return [Buckets(labels={"route": str(r), "tier": t}, bounds=tuple(bounds),
                            counts=tuple(int(c or 0) for c in counts), total=int(n),
                            sum=float(total))
                    for r, t, n, total, *counts in s.execute(stmt)]

    def sweep_lag(self, now: datetime) -> float:
        """How late the sweep is: the oldest reminder, DM or expiry due and not yet done."""
        due = select(func.min(TicketRow.next_action_at)).where(
            TicketRow.status.in_(_OPEN), TicketRow.next_action_at <= now)
        expiring = select(func.min(TicketRow.expires_at)).where(
            TicketRow.status.in_(_OPEN), TicketRow.expires_at <= now)
        with self._read() as s:
            found = [s.execute(q).scalar_one() for q in (due, expiring)]
        oldest = [f for f in found if f is not None]
        return max(0.0, (now - min(oldest)).total_seconds()) if oldest else 0.0

    def escalation_steps(self) -> list[Count]:
        stmt = (select(EscalationStepRow.kind, EscalationStepRow.status, func.count())
                .group_by(EscalationStepRow.kind, EscalationStepRow.status))
        with self._read() as s:
            return [Count(labels={"kind": k, "status": st}, value=n)
                    for k, st, n in s.execute(stmt)]

    def audit_counts(self, kinds: Sequence[str]) -> list[Count]:
        """Audit events of these kinds (delivery failures, moves...), all time."""
        stmt = (select(AuditRow.kind, func.count()).where(AuditRow.kind.in_(list(kinds)))
                .group_by(AuditRow.kind))
        with self._read() as s:
            found = {str(k): int(n) for k, n in s.execute(stmt)}
        return [Count(labels={"kind": k}, value=found.get(k, 0)) for k in kinds]

    def canaries(self) -> list[Count]:
        """Canary decisions per route: caught (rejected, taken over) or missed (approved)."""
        result = case((DecisionRow.kind.in_([k.value for k in CATCH_KINDS]), "caught"),
                      (DecisionRow.kind.in_([k.value for k in MISS_KINDS]), "missed"),
                      else_="other")
        stmt = (select(_ROUTE, result, func.count())
                .join(TicketRow, TicketRow.id == DecisionRow.ticket_id)
                .where(TicketRow.canary.is_not(None)).group_by(_ROUTE, result))
        with self._read() as s:
            return [Count(labels={"route": str(r), "result": res}, value=n)
                    for r, res, n in s.execute(stmt) if res != "other"]


def _json(text: str) -> dict[str, Any]:
    import json

    value = json.loads(text)
    return value if isinstance(value, dict) else {}


__all__ = ["DECISION_NAMES", "Buckets", "Count", "LedgerGauges", "seconds_between"]
