"""Small messages: thread replies under a card, the on-call DM, private refusals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.render.blocks import Message, context, message, section
from bot.render.card import card_blocks
from bot.render.decided import EXPIRED_LINE
from bot.render.ids import BLOCK_NOTE, BLOCK_ONCALL, BLOCK_TICKET
from bot.render.parts import CardContext, fallback
from bot.render.text import (
    acting,
    clip_mrkdwn,
    code_inline,
    duration,
    esc,
    fit_lines,
    mention,
    mention_any,
    quote_block,
    sanitize,
    slack_date,
)
from store.models import Decision, ReviewType, Ticket, TicketStatus

NOTE_LIMIT = 2800
CHANGED_SINCE_FORM = (
    "This request changed since you opened this form (its arguments, route or approvals were "
    "updated, or the agent answered a question), so it was not submitted. Close it, check "
    "the card, and edit again."
)


def _note(ctx: CardContext, text: str, fallback_text: str | None = None) -> Message:
    t = ctx.ticket
    blocks = [
        section(BLOCK_NOTE, text),
        context(BLOCK_TICKET, [f"{esc(t.action, 150)} · ticket {code_inline(t.id, 300)}"]),
    ]
    return message(fallback_text or text, blocks)


def render_reminder(ticket: Ticket, waited: timedelta) -> Message:
    """A nudge in the card's thread: how long it has waited, who can decide, the deadline."""
    ctx = CardContext.build(ticket)
    who, _ = fit_lines([mention_any(a) for a in ticket.route.approvers], 1200, "+{n} more")
    text = (
        f"⏰ Still waiting for a decision after *{duration(waited)}*."
        f" It expires {slack_date(ticket.expires_at)}; if nobody decides, nothing runs."
    )
    if who:
        text += "\nReviewers: " + who.replace("\n", ", ")
    return _note(ctx, text)


def render_escalation_note(ticket: Ticket, level: int, notified: Sequence[str]) -> Message:
    """A thread note that the request climbed the on-call chain."""
    ctx = CardContext.build(ticket)
    who, _ = fit_lines([mention_any(u) for u in notified], 1500, "+{n} more")
    people = who.replace("\n", ", ") or "nobody (no one is on call at this level)"
    text = f"📟 Escalated to on-call level *{level}*: notified {people}."
    return _note(ctx, text)


def render_escalation_dm(
    ticket: Ticket, level: int, *, waited: timedelta | None = None,
    decisions: Sequence[Decision] = (), masked: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> Message:
    """The interactive card, sent privately to the person on call, with why they got it."""
    ctx = CardContext.build(ticket, decisions, masked, now)
    if not ticket.status.is_open:  # decided or expired: say so, and no buttons below
        intro = (f"📟 You were on call for *{esc(ticket.action, 200)}* (level {level}). "
                 "This request is no longer waiting for anyone:")
        blocks = [section(BLOCK_ONCALL, intro), *card_blocks(ctx)]
        return message(fallback(ctx, f"No longer waiting (level {level})"), blocks)
    waiting = (f"has waited *{duration(waited)}* without a decision" if waited is not None
               else "is still waiting for a decision")
    intro = (
        f"📟 You are on call for *{esc(ticket.action, 200)}* (level {level}). "
        f"This request {waiting} and expires {slack_date(ticket.expires_at)}."
    )
    blocks = [section(BLOCK_ONCALL, intro), *card_blocks(ctx)]
    return message(fallback(ctx, f"You are on call (level {level})"), blocks)


def render_fallback_dm(
    ticket: Ticket, note: str, *, decisions: Sequence[Decision] = (),
    masked: frozenset[str] = frozenset(), now: datetime | None = None,
) -> Message:
    """The interactive card, sent privately to someone who holds the authority now (a
    fallback approver, or an approver's delegate), under ``note`` saying why they got it."""
    ctx = CardContext.build(ticket, decisions, masked, now)
    if not ticket.status.is_open:
        note = "This request is no longer waiting for anyone:"
    blocks = [section(BLOCK_ONCALL, note), *card_blocks(ctx)]
    return message(fallback(ctx, "A request needs your decision"), blocks)


def with_note(msg: Message, note: str | None) -> Message:
    """``msg`` with ``note`` as its first block (a delegate learns for whom they got it)."""
    if not note:
        return msg
    return message(msg["text"], [section(BLOCK_NOTE, note), *msg["blocks"]])


def render_execution_result(ticket: Ticket) -> Message:
    """What happened when the approved action ran."""
    ctx = CardContext.build(ticket)
    outcome = ticket.outcome
    if outcome is None:
        text = f"⏳ {code_inline(ticket.action, 200)} has not reported a result yet."
    elif outcome.ok:
        text = f"⚙️ Executed: {ctx.text(outcome.summary or 'done', NOTE_LIMIT - 200)}"
    else:
        error = outcome.error or outcome.summary or "unknown error"
        text = f"💥 Failed: {ctx.text(error, NOTE_LIMIT - 200)}"
    return _note(ctx, text)


def render_outcome_unknown(ticket: Ticket) -> Message:
    """The executor started the approved action and never reported back within its lease."""
    ctx = CardContext.build(ticket)
    since = (f" (its time to report ended {slack_date(ticket.execution_lease_until)})"
             if ticket.execution_lease_until else "")
    text = (
        f"❔ *Outcome unknown*: {code_inline(ticket.action, 200)} started but never reported "
        f"a result{since}. It may or may not have happened, so signoff will not run it "
        "again. Someone must check and record what happened: "
        f"{code_inline(f'signoff tickets resolve {ticket.id} --outcome succeeded|failed', 300)}"
    )
    return _note(ctx, text, "Outcome unknown: the execution never reported back; a human "
                            "must check what happened.")


def render_info_request(ticket: Ticket, reviewer: str, question: str) -> Message:
    """A reviewer asked the agent for more information (on an escalation review, where the
    agent asked for a human: gave it guidance)."""
    ctx = CardContext.build(ticket)
    quoted, _ = quote_block(ctx.red.text(question), NOTE_LIMIT - 300)
    if ticket.review_type == ReviewType.ESCALATION:
        text = (f"🧭 {mention(reviewer)} gave the agent guidance:\n{quoted}\n"
                "_The agent goes on with it; anyone who may decide can still take over._")
        return _note(ctx, text, f"{mention(reviewer)} gave the agent guidance")
    text = (
        f"❓ {mention(reviewer)} asked the agent for more information:\n{quoted}\n"
        "_The request stays open; anyone who may decide can still do so._"
    )
    return _note(ctx, text, f"{mention(reviewer)} asked the agent for more information")


def render_info_answer(ticket: Ticket, text: str) -> Message:
    """The agent's answer to a question, or a reviewer's guidance."""
    ctx = CardContext.build(ticket)
    quoted, _ = quote_block(ctx.red.text(text), NOTE_LIMIT - 100)
    return _note(ctx, f"💬 The agent answered:\n{quoted}", "The agent answered")


def render_expired_notice(ticket: Ticket) -> Message:
    ctx = CardContext.build(ticket)
    text = f"{EXPIRED_LINE} The deadline was {slack_date(ticket.expires_at)}."
    return _note(ctx, text, "Expired — nobody decided in time; nothing was executed.")


def render_refusal(reason_text: str) -> Message:
    """A private (ephemeral) "no". ``reason_text`` may carry user mentions (``<@U…>``), dates
    (``<!date^…>``) and links; anything else in it is escaped."""
    text = clip_mrkdwn(sanitize(reason_text.strip()[:NOTE_LIMIT * 2]) or "Not available.",
                       NOTE_LIMIT)
    return message(text, [section(BLOCK_NOTE, f"🚫 {text}")])


_VERBS = {
    TicketStatus.APPROVED: "approved",
    TicketStatus.EXECUTING: "approved",
    TicketStatus.EXECUTED: "approved",
    TicketStatus.FAILED: "approved",
    TicketStatus.OUTCOME_UNKNOWN: "approved",
    TicketStatus.REJECTED: "rejected",
    TicketStatus.TAKEN_OVER: "taken over",
    TicketStatus.CANCELLED: "cancelled",
}


def render_already_decided(ticket: Ticket) -> Message:
    """The refusal for a late or duplicate click: what already happened, by whom, when."""
    if ticket.status == TicketStatus.EXPIRED:
        return render_refusal(
            f"This request expired {slack_date(ticket.expires_at)}; nothing was executed."
        )
    verb = _VERBS.get(ticket.status)
    if verb is None:
        return render_refusal("This request is still open.")
    text = f"Already {verb}"
    if ticket.decided_by:
        text += f" by {acting(ticket.decided_by, ticket.acting_for.get(ticket.decided_by))}"
    if ticket.decided_at is not None:
        text += f" {slack_date(ticket.decided_at)}"
    return render_refusal(text + ". Your click changed nothing.")


def render_changed_since_seen(ticket: Ticket) -> Message:
    """The refusal for a click on an older view of a request that is still open."""
    return render_refusal(
        f"This request ({code_inline(ticket.action, 200)}) changed since you saw it: its "
        "arguments, route or approvals were updated, or the agent answered a question, so your "
        "click changed nothing. The card now shows the request as it stands: check it and "
        "decide again."
    )
