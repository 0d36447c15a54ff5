"""Is the review real? Queue and reviewer figures read from the ledger.

``signoff stats``, App Home and ``GET /metrics`` read through :class:`QualityStats`, whose
intent-named methods return frozen figures. The rows are read with a handful of queries over
the window and summed here, so the same definitions hold on SQLite and PostgreSQL:

- a **request** is a ticket created in the window, or a call policy denied (no ticket);
- **auto-allowed**: policy allowed it outright (created approved, never shown to anyone);
- **reviewed**: it went to a human; its outcome is approved, edited (approved with changed
  arguments), rejected, expired, taken over, cancelled, or still open; rates divide by the
  reviewed requests that are closed;
- **escalated**: the on-call chain DM'd somebody about it;
- **time in queue**: from creation until it left the queue (decided, expired, cancelled);
- **card to click**: from the card's first posting to the reviewer's decision.

Canaries (test requests that must be rejected) never count toward these figures; their
catches and misses are reported apart.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Engine, and_, exists, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from store.convert import to_decision, to_ticket
from store.errors import StoreUnavailable
from store.models import Decision, DecisionKind, Ticket, TicketStatus
from store.tables import AuditRow, DecisionRow, MessageRow, TicketRow
from store.tickets import SYSTEM_ACTOR

GroupBy = Literal["action", "route", "agent"]
ALL = "all"
NO_AGENT = "-"
_APPROVED = {TicketStatus.APPROVED, TicketStatus.EXECUTING, TicketStatus.EXECUTED,
             TicketStatus.FAILED, TicketStatus.OUTCOME_UNKNOWN}
CATCH_KINDS = frozenset({DecisionKind.REJECT, DecisionKind.TAKE_OVER})
MISS_KINDS = frozenset({DecisionKind.APPROVE, DecisionKind.EDIT})
CORRECTION_KINDS = frozenset({DecisionKind.EDIT, DecisionKind.REJECT, DecisionKind.TAKE_OVER,
                              DecisionKind.REQUEST_INFO})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QueueFigures(_Frozen):
    """Requests and their outcomes for one group (``all``, an action, a route, an agent)."""

    group: str
    requests: int
    denied: int
    auto_allowed: int
    by_grant: int
    """Approved by a standing grant, without a card (neither auto-allowed nor reviewed)."""
    reviewed: int
    approved: int
    edited: int
    rejected: int
    expired: int
    taken_over: int
    cancelled: int
    open: int
    escalated: int
    auto_allow_share: float | None
    approval_rate: float | None
    edit_rate: float | None
    rejection_rate: float | None
    expiry_rate: float | None
    escalation_rate: float | None
    queue_p50_s: float | None
    queue_p95_s: float | None


class ReviewerFigures(_Frozen):
    """One reviewer's decisions on real requests, and their canary record."""

    reviewer: str
    decisions: int
    approvals: int
    edits: int
    rejections: int
    info_requests: int
    take_overs: int
    approval_rate: float | None
    """Plain approvals over decisions (edits, rejections and questions are disagreement)."""
    median_click_s: float | None
    canary_catches: int = 0
    canary_misses: int = 0


class CanaryFigures(_Frozen):
    """Canary decisions for one route and reviewer: a catch is a reject or take-over."""

    route: str
    reviewer: str
    catches: int
    misses: int

    @property
    def catch_rate(self) -> float | None:
        return ratio(self.catches, self.catches + self.misses)


class Correction(_Frozen):
    """A request a reviewer corrected, with every decision taken on it."""

    ticket: Ticket
    decisions: tuple[Decision, ...]


class OpenQueue(_Frozen):
    """Open requests (waiting for a human) of one route and tier, at one instant."""

    route: str
    tier: str
    count: int
    oldest_created_at: datetime | None


def ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``q`` of them at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(math.ceil(q * len(ordered)), 1) - 1], 3)


@dataclass(frozen=True)
class _TicketFact:
    action: str
    route: str
    agent: str
    status: TicketStatus
    created_at: datetime
    decided_at: datetime | None
    auto_allowed: bool
    edited: bool
    escalated: bool
    by_grant: bool = False

    def key(self, by: GroupBy | None) -> str:
        return ALL if by is None else str(getattr(self, by))


@dataclass(frozen=True)
class _DecisionFact:
    reviewer: str
    kind: DecisionKind
    seconds: float | None
    canary: bool
    route: str


_ROUTE = TicketRow.route["name"].as_string()
#: The ticket was approved by a standing grant (a decision in the granter's name, no card).
BY_GRANT = exists().where(DecisionRow.ticket_id == TicketRow.id,
                          DecisionRow.grant_id.is_not(None))


class QualityStats:
    """Read-only figures over the ledger's tables. Thread-safe; one per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def queue_figures(self, since: datetime, by: GroupBy | None = None) -> list[QueueFigures]:
        """Request volume and review outcomes since ``since``: one row per group, busiest
        first (one row, ``all``, without ``by``)."""
        tickets = self._ticket_facts(since)
        denied = self._denials(since, by)
        groups: dict[str, list[_TicketFact]] = defaultdict(list)
        for fact in tickets:
            groups[fact.key(by)].append(fact)
        keys = set(groups) | set(denied) | ({ALL} if by is None else set())
        rows = [_queue(k, groups.get(k, []), denied.get(k, 0)) for k in keys]
        return sorted(rows, key=lambda r: (-r.requests, r.group))

    def reviewer_figures(self, since: datetime, *, route: str | None = None
                         ) -> list[ReviewerFigures]:
        """Each reviewer's decisions since ``since`` (on ``route`` only, if given), most
        decisions first. Canary decisions count only as catches and misses."""
        facts = [f for f in self._decision_facts(since) if route is None or f.route == route]
        by_reviewer: dict[str, list[_DecisionFact]] = defaultdict(list)
        for fact in facts:
            by_reviewer[fact.reviewer].append(fact)
        rows = [_reviewer(name, items) for name, items in by_reviewer.items()]
        return sorted(rows, key=lambda r: (-r.decisions, r.reviewer))

    def canary_figures(self, since: datetime | None = None) -> list[CanaryFigures]:
        """Catches and misses per route and reviewer (all time without ``since``)."""
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for fact in self._decision_facts(since, canaries_only=True):
            if fact.kind in CATCH_KINDS:
                counts[(fact.route, fact.reviewer)][0] += 1
            elif fact.kind in MISS_KINDS:
                counts[(fact.route, fact.reviewer)][1] += 1
        return [CanaryFigures(route=r, reviewer=u, catches=c, misses=m)
                for (r, u), (c, m) in sorted(counts.items())]

    def open_queue(self) -> list[OpenQueue]:
        """Open real requests per route and tier, with the oldest one's creation time."""
        stmt = (select(_ROUTE, TicketRow.tier, func.count(), func.min(TicketRow.created_at))
                .where(TicketRow.status.in_([TicketStatus.PENDING.value,
                                             TicketStatus.NEEDS_INFO.value]),
                       TicketRow.canary.is_(None))
                .group_by(_ROUTE, TicketRow.tier))
        with self._read() as s:
            rows = s.execute(stmt).all()
        return [OpenQueue(route=str(r), tier=str(t), count=int(n),
                          oldest_created_at=oldest) for r, t, n, oldest in rows]

    def corrections(self, since: datetime, *, action: str | None = None,
                    limit: int = 10_000) -> list[Correction]:
        """Real requests created since ``since`` that a reviewer corrected: edited,
        rejected, took over or questioned. Oldest first, each with all its decisions."""
        corrected = select(DecisionRow.ticket_id).where(
            DecisionRow.kind.in_([k.value for k in CORRECTION_KINDS]))
        stmt = (select(TicketRow).where(TicketRow.created_at >= since,
                                        TicketRow.canary.is_(None),
                                        TicketRow.id.in_(corrected))
                .order_by(TicketRow.created_at, TicketRow.id).limit(limit))
        if action is not None:
            stmt = stmt.where(TicketRow.action == action)
        with self._read() as s:
            rows = s.execute(stmt).scalars().all()
            decisions: dict[str, list[Decision]] = defaultdict(list)
            found = s.execute(select(DecisionRow).where(
                DecisionRow.ticket_id.in_([r.id for r in rows])).order_by(DecisionRow.id))
            for d in found.scalars():
                decisions[d.ticket_id].append(to_decision(d))
            return [Correction(ticket=to_ticket(r), decisions=tuple(decisions[r.id]))
                    for r in rows]

    # -- reading the rows -------------------------------------------------------------------

    def _ticket_facts(self, since: datetime) -> list[_TicketFact]:
        stmt = select(TicketRow.action, _ROUTE, TicketRow.agent, TicketRow.status,
                      TicketRow.created_at, TicketRow.decided_at, TicketRow.decided_by,
                      TicketRow.args_hash, TicketRow.final_args_hash,
                      TicketRow.escalation_level, TicketRow.escalation_loop,
                      BY_GRANT).where(
            TicketRow.created_at >= since, TicketRow.canary.is_(None))
        with self._read() as s:
            rows = s.execute(stmt).all()
        return [_TicketFact(
            action=action, route=str(route), agent=agent or NO_AGENT,
            status=TicketStatus(status), created_at=created, decided_at=decided,
            auto_allowed=decided_by == SYSTEM_ACTOR and decided == created,
            edited=ahash != fhash, escalated=level > 0 or loop > 0, by_grant=bool(grant))
            for action, route, agent, status, created, decided, decided_by, ahash, fhash,
            level, loop, grant in rows]

    def _denials(self, since: datetime, by: GroupBy | None) -> dict[str, int]:
        """Calls policy denied (audited without a ticket), counted per group."""
        stmt = select(AuditRow.actor, AuditRow.data).where(
            AuditRow.kind == "denied", AuditRow.ticket_id.is_(None), AuditRow.at >= since)
        counts: dict[str, int] = defaultdict(int)
        with self._read() as s:
            for actor, data in s.execute(stmt):
                counts[_denial_key(by, actor, json.loads(data))] += 1
        return dict(counts)

    def _decision_facts(self, since: datetime | None, *,
                        canaries_only: bool = False) -> list[_DecisionFact]:
        cards = (select(MessageRow.ticket_id, func.min(MessageRow.at).label("at"))
                 .where(MessageRow.role == "card").group_by(MessageRow.ticket_id).subquery())
        stmt = (select(DecisionRow.reviewer, DecisionRow.kind, DecisionRow.at, cards.c.at,
                       TicketRow.created_at, TicketRow.canary, _ROUTE)
                .join(TicketRow, TicketRow.id == DecisionRow.ticket_id)
                .outerjoin(cards, cards.c.ticket_id == DecisionRow.ticket_id))
        # A standing grant's approvals were no reviewer's click: they say nothing about how
        # carefully anyone reviews, so they never count toward a reviewer's figures.
        conditions: list[ColumnElement[bool]] = [DecisionRow.grant_id.is_(None)]
        if canaries_only:
            conditions.append(TicketRow.canary.is_not(None))
        if since is not None:
            conditions.append(DecisionRow.at >= since)
        stmt = stmt.where(and_(*conditions))
        with self._read() as s:
            rows = s.execute(stmt).all()
        return [_DecisionFact(
            reviewer=reviewer, kind=DecisionKind(kind), canary=canary is not None,
            route=str(route),
            seconds=(at - (card_at or created)).total_seconds())
            for reviewer, kind, at, card_at, created, canary, route in rows]

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A read-only session; driver errors become :class:`StoreUnavailable`."""
        try:
            with Session(self.engine) as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"database error: {exc}") from exc


def _denial_key(by: GroupBy | None, actor: str, data: dict[str, object]) -> str:
    if by is None:
        return ALL
    if by == "action":
        return str(data.get("action") or "?")
    if by == "agent":
        return actor or NO_AGENT
    return "-"  # denied before any route was chosen


def _queue(group: str, facts: Iterable[_TicketFact], denied: int) -> QueueFigures:
    facts = list(facts)
    auto = sum(f.auto_allowed for f in facts)
    granted = sum(f.by_grant for f in facts)
    reviewed = [f for f in facts if not f.auto_allowed and not f.by_grant]
    count = defaultdict(int, _outcomes(reviewed))
    closed = len(reviewed) - count["open"]
    waits = [(f.decided_at - f.created_at).total_seconds() for f in reviewed
             if f.decided_at is not None]
    escalated = sum(f.escalated for f in reviewed)
    return QueueFigures(
        group=group, requests=len(facts) + denied, denied=denied, auto_allowed=auto,
        by_grant=granted, reviewed=len(reviewed), approved=count["approved"],
        edited=count["edited"],
        rejected=count["rejected"], expired=count["expired"], taken_over=count["taken_over"],
        cancelled=count["cancelled"], open=count["open"], escalated=escalated,
        auto_allow_share=ratio(auto, len(facts) + denied),
        approval_rate=ratio(count["approved"], closed), edit_rate=ratio(count["edited"], closed),
        rejection_rate=ratio(count["rejected"], closed),
        expiry_rate=ratio(count["expired"], closed),
        escalation_rate=ratio(escalated, len(reviewed)),
        queue_p50_s=percentile(waits, 0.5), queue_p95_s=percentile(waits, 0.95))


def _outcomes(reviewed: Iterable[_TicketFact]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for f in reviewed:
        out[outcome_of(f.status, f.edited)] += 1
    return out


def outcome_of(status: TicketStatus, edited: bool) -> str:
    """A reviewed request's outcome, as the figures name it."""
    if status in _APPROVED:
        return "edited" if edited else "approved"
    if status.is_open:
        return "open"
    return status.value


def _reviewer(name: str, facts: list[_DecisionFact]) -> ReviewerFigures:
    real = [f for f in facts if not f.canary]
    kinds = defaultdict(int, {k: sum(f.kind == k for f in real) for k in DecisionKind})
    clicks = [f.seconds for f in real if f.seconds is not None]
    return ReviewerFigures(
        reviewer=name, decisions=len(real), approvals=kinds[DecisionKind.APPROVE],
        edits=kinds[DecisionKind.EDIT], rejections=kinds[DecisionKind.REJECT],
        info_requests=kinds[DecisionKind.REQUEST_INFO],
        take_overs=kinds[DecisionKind.TAKE_OVER],
        approval_rate=ratio(kinds[DecisionKind.APPROVE], len(real)),
        median_click_s=percentile(clicks, 0.5),
        canary_catches=sum(f.canary and f.kind in CATCH_KINDS for f in facts),
        canary_misses=sum(f.canary and f.kind in MISS_KINDS for f in facts))


__all__ = ["ALL", "CORRECTION_KINDS", "CanaryFigures", "Correction", "GroupBy", "OpenQueue",
           "QualityStats", "QueueFigures", "ReviewerFigures", "outcome_of", "percentile",
           "ratio"]
