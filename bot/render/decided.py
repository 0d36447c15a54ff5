"""The card after a decision: buttons gone, what happened, who, when, why, what changed."""

from __future__ import annotations

from bot.render.blocks import Block, section
from bot.render.ids import BLOCK_DECISION_REASON, BLOCK_OUTCOME, BLOCK_RESULT
from bot.render.parts import (
    CardContext,
    args_blocks,
    diff_block,
    facts_block,
    header_block,
    ticket_block,
)
from bot.render.text import acting, mentions, slack_date
from store.models import DecisionKind, TicketStatus

EXPIRED_LINE = "⏰ *Expired* — nobody decided in time; nothing was executed."

_LABELS = {
    TicketStatus.APPROVED: "✅ Approved",
    TicketStatus.REJECTED: "❌ Rejected",
    TicketStatus.EXPIRED: "⏰ Expired",
    TicketStatus.CANCELLED: "🚫 Cancelled",
    TicketStatus.TAKEN_OVER: "🙋 Taken over",
    TicketStatus.EXECUTING: "⏳ Approved, running",
    TicketStatus.EXECUTED: "⚙️ Executed",
    TicketStatus.FAILED: "💥 Failed",
    TicketStatus.OUTCOME_UNKNOWN: "❔ Outcome unknown — a human must check",
    TicketStatus.PENDING: "⏳ Waiting for a decision",
    TicketStatus.NEEDS_INFO: "❓ Waiting for more information",
}
_REASON_KINDS = {
    TicketStatus.REJECTED: (DecisionKind.REJECT,),
    TicketStatus.TAKEN_OVER: (DecisionKind.TAKE_OVER,),
    TicketStatus.CANCELLED: (DecisionKind.REJECT,),
    TicketStatus.EXPIRED: (),
}
_APPROVE_KINDS = (DecisionKind.APPROVE, DecisionKind.EDIT, DecisionKind.BREAK_GLASS)
BROKEN = "🚨 Approved by break-glass"
_RAN = (TicketStatus.APPROVED, TicketStatus.EXECUTING, TicketStatus.EXECUTED, TicketStatus.FAILED,
        TicketStatus.OUTCOME_UNKNOWN)


def decided_lead(ctx: CardContext) -> str:
    """The outcome in a few words, e.g. ``✏️ Approved with edits``."""
    t = ctx.ticket
    broken = t.status in _RAN and ctx.last(DecisionKind.BREAK_GLASS) is not None
    if t.status == TicketStatus.APPROVED and broken:
        return BROKEN
    if t.status == TicketStatus.APPROVED and t.edited:
        return "✏️ Approved with edits"
    label = _LABELS[t.status]
    if broken:
        label += " (break-glass)"
    if t.status in (TicketStatus.EXECUTING, TicketStatus.EXECUTED) and t.edited:
        label += " (approved with edits)"
    return label


def decided_blocks(ctx: CardContext) -> list[Block]:
    t = ctx.ticket
    blocks: list[Block | None] = [
        header_block(t),
        section(BLOCK_OUTCOME, _outcome_line(ctx)),
        _reason(ctx),
        _result(ctx),
        diff_block(ctx) if t.edited else None,
        *args_blocks(ctx, t.final_args),
        facts_block(ctx, deadline=False),
        ticket_block(ctx),
    ]
    return [b for b in blocks if b is not None]


def _outcome_line(ctx: CardContext) -> str:
    t = ctx.ticket
    if t.status == TicketStatus.EXPIRED:
        return f"{EXPIRED_LINE}\nDeadline was {slack_date(t.expires_at)}."
    lead = decided_lead(ctx)
    head, _, rest = lead.partition(" ")
    line = f"{head} *{rest}*"
    who = _who(ctx)
    if who:
        line += f" by {who}"
    if t.decided_at is not None:
        line += f" · {slack_date(t.decided_at)}"
    return line


def _who(ctx: CardContext) -> str:
    t = ctx.ticket
    if t.status in _RAN and t.approvals:
        return mentions(t.approvals, acting_for=t.acting_for)
    if t.decided_by:
        last = ctx.last(*_REASON_KINDS.get(t.status, ()))
        for_whom = last.on_behalf_of if last and last.reviewer == t.decided_by else None
        return acting(t.decided_by, for_whom)
    return ""


def _reason(ctx: CardContext) -> Block | None:
    kinds = _REASON_KINDS.get(ctx.ticket.status, _APPROVE_KINDS)
    decision = ctx.last(*kinds)
    if decision is None or not (decision.reason or "").strip():
        return None
    title = "Justification" if decision.kind == DecisionKind.BREAK_GLASS else "Reason"
    return section(BLOCK_DECISION_REASON, f"*{title}:* {ctx.text(decision.reason, 2000)}")


def _result(ctx: CardContext) -> Block | None:
    outcome = ctx.ticket.outcome
    if outcome is None:
        return None
    if outcome.ok:
        text = f"*Result:* {ctx.text(outcome.summary or 'done', 2000)}"
    else:
        text = f"*Error:* {ctx.text(outcome.error or outcome.summary or 'unknown error', 2000)}"
    return section(BLOCK_RESULT, f"{text}\n_{slack_date(outcome.at)}_")
