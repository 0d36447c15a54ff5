"""The interactive review card, one layout per review type, and its decided form."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.render.blocks import Block, Message, actions, button, confirm, message, section
from bot.render.decided import decided_blocks, decided_lead
from bot.render.ids import (
    ACTION_APPROVE,
    ACTION_BREAK_GLASS,
    ACTION_EDIT,
    ACTION_GUIDANCE,
    ACTION_REJECT,
    ACTION_REQUEST_INFO,
    ACTION_TAKE_OVER,
    BLOCK_ACTIONS,
    BLOCK_CONTENT,
    BLOCK_IF_APPROVED,
    BLOCK_INTRO,
    BLOCK_NEEDS,
    button_value,
)
from bot.render.parts import (
    CardContext,
    args_blocks,
    diff_block,
    evidence_block,
    facts_block,
    fallback,
    happens,
    header_block,
    more_block,
    progress_block,
    question_block,
    reason_block,
    ticket_block,
    tier_label,
)
from bot.render.text import esc, quote_block
from bot.render.values import MASK, inline
from store.models import PLAN_ACTION, Decision, ReviewType, RiskTier, Ticket, TicketStatus

BODY_KEYS = ("body", "content", "text", "message", "draft", "markdown", "html", "reply")
META_KEYS = ("to", "cc", "bcc", "from", "reply_to", "subject", "title", "channel", "recipient")
BODY_LIMIT = 2500


def render_card(
    ticket: Ticket, *, decisions: Sequence[Decision] = (),
    masked: frozenset[str] = frozenset(), now: datetime | None = None,
    break_glass: bool = False,
) -> Message:
    """The card for ``ticket`` as it should look now: interactive while open, else decided.
    ``break_glass``: policy lets an authorised responder run it before anyone approves, so
    the card offers that too (last, apart from the decisions).
    A plan has its own card (:mod:`bot.render.plan`; the bot passes it the plan's progress)."""
    if ticket.action == PLAN_ACTION:
        # Imported here: bot.render.plan imports this module (edit_form → modals → thread).
        from bot.render.plan import render_plan_card

        return render_plan_card(ticket, decisions=decisions, now=now)
    ctx = CardContext.build(ticket, decisions, masked, now)
    if not ticket.status.is_open:
        return message(fallback(ctx, decided_lead(ctx)), decided_blocks(ctx))
    build, lead = _LAYOUTS[ticket.review_type]
    blocks = build(ctx)
    if break_glass:
        for block in blocks:
            if block.get("block_id") == BLOCK_ACTIONS:
                block["elements"].append(button("Break glass…", ACTION_BREAK_GLASS,
                                                _value(ctx), style="danger"))
    return message(fallback(ctx, f"{lead} ({tier_label(ticket)})"), blocks)


def card_blocks(ctx: CardContext) -> list[Block]:
    """The blocks ``render_card`` would produce (for messages that wrap the card)."""
    if ctx.ticket.action == PLAN_ACTION:
        from bot.render.plan import plan_blocks  # see render_card

        return plan_blocks(ctx, None)
    if not ctx.ticket.status.is_open:
        return decided_blocks(ctx)
    return _LAYOUTS[ctx.ticket.review_type][0](ctx)


def _approval(ctx: CardContext) -> list[Block]:
    t = ctx.ticket
    blocks: list[Block | None] = [
        header_block(t),
        section(BLOCK_IF_APPROVED, f"*If you approve:* {happens(ctx, 1200)}"),
        *args_blocks(ctx, t.final_args, clipped=_clipped(ctx)),
        diff_block(ctx),
        reason_block(ctx),
        evidence_block(ctx),
    ]
    return _finish(ctx, blocks, _approval_buttons(ctx))


def _edit(ctx: CardContext) -> list[Block]:
    t = ctx.ticket
    args = dict(t.final_args)
    content, clipped = _content(ctx, args)
    clipped = clipped or _clipped(ctx)
    intro = "✏️ *Generated content to review.* Edit it before it is used, or approve it as is."
    if t.summary and not t.edited:
        intro += f"\n{ctx.text(t.summary, 1000)}"
    elif t.edited:
        intro += f"\n*Edited by a reviewer:* {happens(ctx, 1000)}"
    blocks: list[Block | None] = [header_block(t), section(BLOCK_INTRO, intro)]
    if content:
        blocks.append(section(BLOCK_CONTENT, content))
    if args or not content:
        blocks += args_blocks(ctx, args, clipped=clipped)
    elif clipped:
        blocks.append(more_block(ctx))
    blocks += [diff_block(ctx), reason_block(ctx), evidence_block(ctx)]
    return _finish(ctx, blocks, _edit_buttons(ctx))


def _content(ctx: CardContext, args: dict[str, Any]) -> tuple[str, bool]:
    """The generated content as readable text (``To:``, ``Subject:``, the body quoted).

    Removes what it shows from ``args``; returns the text and whether the body was shortened.
    """
    body_key = _body_key(args)
    lines = [_meta_line(ctx, k, args.pop(k)) for k in META_KEYS if k in args and k != body_key]
    if body_key is None:
        return "\n".join(lines), False
    body = args.pop(body_key)
    if ctx.red.is_secret(body_key):
        return "\n".join([*lines, MASK]), False
    quoted, short = quote_block(ctx.red.text(str(body)), BODY_LIMIT)
    return "\n".join([*lines, quoted]), short


def _escalation(ctx: CardContext) -> list[Block]:
    t = ctx.ticket
    intro = (
        "🤔 *The agent is unsure and asks for a human.* "
        "Take over to own the task yourself, or give it guidance to continue."
    )
    needs = ctx.text(t.summary, 1500) if t.summary else "_The agent did not say._"
    blocks: list[Block | None] = [
        header_block(t),
        section(BLOCK_INTRO, intro),
        reason_block(ctx, "Why it is unsure"),
        evidence_block(ctx, "What it tried"),
        section(BLOCK_NEEDS, f"*What it needs:* {needs}"),
        *(args_blocks(ctx, t.final_args, clipped=_clipped(ctx)) if t.final_args else []),
    ]
    return _finish(ctx, blocks, _escalation_buttons(ctx))


def _finish(ctx: CardContext, blocks: list[Block | None], buttons: list[Block]) -> list[Block]:
    blocks += [progress_block(ctx), facts_block(ctx)]
    if ctx.ticket.status == TicketStatus.NEEDS_INFO:
        blocks.append(question_block(ctx))
    blocks += [actions(BLOCK_ACTIONS, buttons), ticket_block(ctx)]
    return [b for b in blocks if b is not None]


def _approve_button(ctx: CardContext, label: str, primary: bool) -> Block:
    t = ctx.ticket
    dialog = None
    if t.tier == RiskTier.CRITICAL:
        dialog = confirm(
            "Approve a critical action?",
            f"{t.action} will run with the arguments shown on the card. "
            "This cannot be undone from Slack.",
            "Approve",
        )
    return button(label, ACTION_APPROVE, _value(ctx), style="primary" if primary else None,
                  confirm_dialog=dialog)


def _value(ctx: CardContext) -> str:
    """Every decision button names the ticket version this card shows."""
    return button_value(ctx.ticket.id, ctx.ticket.version)


def _approval_buttons(ctx: CardContext) -> list[Block]:
    tid = _value(ctx)
    return [
        _approve_button(ctx, "Approve", primary=True),
        button("Edit", ACTION_EDIT, tid),
        button("Reject", ACTION_REJECT, tid, style="danger"),
        button("Request info", ACTION_REQUEST_INFO, tid),
    ]


def _edit_buttons(ctx: CardContext) -> list[Block]:
    tid = _value(ctx)
    return [
        button("Edit", ACTION_EDIT, tid, style="primary"),
        _approve_button(ctx, "Approve as is", primary=False),
        button("Reject", ACTION_REJECT, tid, style="danger"),
    ]


def _escalation_buttons(ctx: CardContext) -> list[Block]:
    tid = _value(ctx)
    return [
        button("Take over", ACTION_TAKE_OVER, tid, style="primary"),
        button("Give guidance", ACTION_GUIDANCE, tid),
        button("Reject", ACTION_REJECT, tid, style="danger"),
    ]


def _clipped(ctx: CardContext) -> bool:
    """Whether free text on the card is shortened (so "Show all" has more to show)."""
    t = ctx.ticket
    return len(t.summary or "") > 1000 or len(t.reason) > 1200


def _body_key(args: dict[str, Any]) -> str | None:
    for key in BODY_KEYS:
        if isinstance(args.get(key), str):
            return key
    strings = [(len(v), k) for k, v in args.items() if isinstance(v, str) and len(v) > 80]
    return max(strings)[1] if strings else None


def _meta_line(ctx: CardContext, key: str, value: Any) -> str:
    shown, _ = inline(ctx.red.arg(key, value), 300)
    return f"*{esc(key.replace('_', ' ').capitalize(), 50)}:* {shown}"


_LAYOUTS: dict[ReviewType, tuple[Callable[[CardContext], list[Block]], str]] = {
    ReviewType.APPROVAL: (_approval, "Approval needed"),
    ReviewType.EDIT: (_edit, "Content to review"),
    ReviewType.ESCALATION: (_escalation, "The agent asks for a human"),
}
