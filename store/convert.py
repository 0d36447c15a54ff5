"""Rows to frozen domain objects (the only place that reads ORM rows field by field)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row

from store.models import (
    Decision,
    DecisionKind,
    Evidence,
    Outcome,
    ReviewType,
    RiskTier,
    Route,
    SlackRef,
    Ticket,
    TicketStatus,
)
from store.steps import EscalationStep
from store.tables import DecisionRow, EscalationStepRow, MessageData, TicketData


def to_ticket(row: TicketData, messages: Sequence[MessageData] = ()) -> Ticket:
    card = None
    if row.card_channel and row.card_ts:
        card = SlackRef(role="card", channel=row.card_channel, ts=row.card_ts)
    outcome = None
    if row.outcome_ok is not None and row.outcome_at is not None:
        outcome = Outcome(ok=row.outcome_ok, summary=row.outcome_summary,
                          error=row.outcome_error, at=row.outcome_at)
    return Ticket(
        id=row.id,
        idempotency_key=row.idempotency_key,
        action=row.action,
        args=row.args,
        args_hash=row.args_hash,
        final_args=row.final_args,
        final_args_hash=row.final_args_hash,
        review_type=ReviewType(row.review_type),
        summary=row.summary,
        reason=row.reason,
        evidence=tuple(Evidence.model_validate(e) for e in row.evidence),
        confidence=row.confidence,
        requested_by=row.requested_by,
        agent=row.agent,
        run_id=row.run_id,
        tier=RiskTier(row.tier),
        route=Route.model_validate(row.route),
        policy_version=row.policy_version,
        policy_rule=row.policy_rule,
        status=TicketStatus(row.status),
        version=row.version,
        approvals=tuple(row.approvals),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        created_at=row.created_at,
        expires_at=row.expires_at,
        next_action_at=row.next_action_at,
        escalation_level=row.escalation_level,
        escalation_loop=row.escalation_loop,
        escalation_epoch=row.escalation_epoch or 0,
        escalation=row.escalation,
        args_schema=row.args_schema,
        card=card,
        messages=tuple(
            SlackRef(role=m.role, channel=m.channel, ts=m.ts, user=m.user, epoch=m.epoch)
            for m in messages
        ),
        outcome=outcome,
        canary=row.canary,
        canary_lesson=row.canary_lesson,
        shown_version=row.shown_version,
        execution_lease_until=row.execution_lease_until,
        acting_for=dict(row.acting_for or {}),
    )


def to_decision(row: DecisionRow | Row[Any]) -> Decision:
    return Decision(
        id=row.id,
        ticket_id=row.ticket_id,
        reviewer=row.reviewer,
        kind=DecisionKind(row.kind),
        reason=row.reason,
        args=row.args,
        args_hash=row.args_hash,
        at=row.at,
        policy_version=row.policy_version,
        on_behalf_of=row.on_behalf_of,
    )


def to_step(row: EscalationStepRow) -> EscalationStep:
    return EscalationStep(
        id=row.id, ticket_id=row.ticket_id, loop=row.loop, level=row.level, step=row.step,
        kind=row.kind, due_at=row.due_at, recorded_at=row.recorded_at, owner=row.owner,
        status=row.status, targets=tuple(row.targets), pending=tuple(row.pending),
        attempts=row.attempts, retry_at=row.retry_at, error=row.error, epoch=row.epoch or 0)
