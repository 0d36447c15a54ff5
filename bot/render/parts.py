"""Pieces shared by the three card types and the decided card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.render.blocks import (
    FIELD_TEXT,
    MAX_FIELDS,
    SECTION_TEXT,
    Block,
    button,
    context,
    header,
    section,
)
from bot.render.ids import (
    ACTION_SHOW_ALL,
    BLOCK_ARGS,
    BLOCK_ARGS_MORE,
    BLOCK_DIFF,
    BLOCK_EVIDENCE,
    BLOCK_FACTS,
    BLOCK_HEADER,
    BLOCK_PROGRESS,
    BLOCK_QUESTION,
    BLOCK_REASON,
    BLOCK_TICKET,
)
from bot.render.text import (
    as_utc,
    code_inline,
    esc,
    esc_flag,
    fit_lines,
    link,
    mention,
    mentions,
    slack_date,
)
from bot.render.values import MASK, Redactor, inline
from store.models import Decision, DecisionKind, RiskTier, Ticket

TIER_EMOJI = {
    RiskTier.LOW: "🟢",
    RiskTier.MEDIUM: "🟡",
    RiskTier.HIGH: "🟠",
    RiskTier.CRITICAL: "🔴",
}
TARGET_KEYS = (
    "target", "to", "recipient", "recipients", "customer", "customer_id", "account",
    "account_id", "user", "user_id", "email", "resource", "repo", "repository", "channel",
    "path", "url", "id",
)
VALUE_LIMIT = 300
LABEL_LIMIT = 100
_MISSING = object()


@dataclass(frozen=True)
class CardContext:
    """One ticket being rendered, with its masking and the decisions made on it so far."""

    ticket: Ticket
    red: Redactor
    decisions: tuple[Decision, ...]
    now: datetime | None

    @classmethod
    def build(
        cls, ticket: Ticket, decisions: Sequence[Decision] = (),
        masked: frozenset[str] = frozenset(), now: datetime | None = None,
    ) -> CardContext:
        return cls(ticket, Redactor.for_ticket(ticket, masked), tuple(decisions), now)

    def text(self, raw: str | None, limit: int) -> str:
        """Free text from the agent or a reviewer: secrets blotted out, escaped, shortened."""
        return esc(self.red.text(raw), limit)

    def last(self, *kinds: DecisionKind) -> Decision | None:
        found = [d for d in self.decisions if d.kind in kinds]
        return max(found, key=lambda d: (as_utc(d.at), d.id)) if found else None


def tier_label(ticket: Ticket) -> str:
    return f"{TIER_EMOJI[ticket.tier]} {ticket.tier.value}"


def header_block(ticket: Ticket) -> Block:
    return header(BLOCK_HEADER, f"{tier_label(ticket)} · {ticket.action}")


def happens(ctx: CardContext, limit: int) -> str:
    """What approving does. The agent's summary describes the arguments it proposed, so once a
    reviewer has edited them the line is built from the arguments that will run instead."""
    t = ctx.ticket
    if t.summary and not t.edited:
        return ctx.text(t.summary, limit)
    if not t.edited:
        return f"{code_inline(t.action, 200)} runs with these arguments."
    return f"{code_inline(t.action, 200)} runs with the edited arguments: {key_args(ctx)}."


def key_args(ctx: CardContext, count: int = 4, each: int = 100) -> str:
    """The first few final arguments, target-like ones first, as ``*key* value`` pairs."""
    args = ctx.ticket.final_args
    keys = ordered_keys(args)
    pairs = [f"*{esc(k, 50)}* {inline(ctx.red.arg(k, args[k]), each)[0]}" for k in keys[:count]]
    more = f" (+{len(keys) - count} more)" if len(keys) > count else ""
    return (", ".join(pairs) or "_no arguments_") + more


def show_all_button(ticket: Ticket) -> Block:
    return button("Show all", ACTION_SHOW_ALL, ticket.id)


def ordered_keys(args: Mapping[str, Any]) -> list[str]:
    """Target-like arguments first, then the rest in the agent's order."""
    first = [k for k in TARGET_KEYS if k in args]
    return first + [k for k in args if k not in first]


def arg_field(ctx: CardContext, key: str, value: Any, limit: int = VALUE_LIMIT) -> tuple[str, bool]:
    label = esc(key, LABEL_LIMIT) or "(blank)"
    shown, short = inline(ctx.red.arg(key, value), min(limit, FIELD_TEXT - LABEL_LIMIT - 8))
    return f"*{label}*\n{shown}", short


def args_blocks(
    ctx: CardContext, args: Mapping[str, Any], *, clipped: bool = False,
) -> list[Block]:
    """Arguments as section fields; overflow and shortened values get a "Show all" line."""
    keys = ordered_keys(args)
    if not keys:
        return [section(BLOCK_ARGS, "_No arguments._")]
    fields = []
    for key in keys[:MAX_FIELDS]:
        text, short = arg_field(ctx, key, args[key])
        fields.append(text)
        clipped = clipped or short
    blocks = [section(BLOCK_ARGS, fields=fields)]
    hidden = keys[MAX_FIELDS:]
    if hidden:
        names, _ = fit_lines([esc(k, LABEL_LIMIT) for k in hidden], 1500, "…")
        blocks.append(more_block(ctx, f"*+{len(hidden)} more:* " + names.replace("\n", ", ")))
    elif clipped:
        blocks.append(more_block(ctx))
    return blocks


def more_block(ctx: CardContext, note: str = "_Some values are shortened._") -> Block:
    """A line with the "Show all" button, for whatever the card could not show in full."""
    return section(BLOCK_ARGS_MORE, note, accessory=show_all_button(ctx.ticket))


def reason_block(ctx: CardContext, title: str = "Why") -> Block | None:
    if not ctx.ticket.reason.strip():
        return None
    return section(BLOCK_REASON, f"*{title}:* {ctx.text(ctx.ticket.reason, 1500)}")


def evidence_block(ctx: CardContext, title: str = "Evidence") -> Block | None:
    items = ctx.ticket.evidence
    if not items:
        return None
    lines = []
    for item in items:
        line = "• " + link(item.url, ctx.red.text(item.title), 200)
        if item.detail:
            line += " — " + ctx.text(item.detail, 300)
        lines.append(line)
    body, _ = fit_lines(lines, SECTION_TEXT - 40)
    return section(BLOCK_EVIDENCE, f"*{title}*\n{body}")


def facts_block(ctx: CardContext, *, deadline: bool = True) -> Block:
    """Who it is for, which agent and run, confidence, policy and (while open) the deadline."""
    t = ctx.ticket
    facts = [f"On behalf of {mention(t.requested_by)}"]
    if t.agent or t.run_id:
        who = [f"agent {code_inline(t.agent, 200)}" if t.agent else ""]
        who.append(f"run {code_inline(t.run_id, 200)}" if t.run_id else "")
        said = " · ".join(w for w in who if w)
        facts.append(said[:1].upper() + said[1:])  # not capitalize(): it lowercases the ids
    if t.confidence is not None:
        facts.append(f"Confidence *{round(t.confidence * 100)}%*")
    rule = f"rule {code_inline(t.policy_rule, 300)}" if t.policy_rule else "policy"
    facts.append(f"Review required by {rule} (policy {code_inline(t.policy_version, 200)})")
    if deadline:
        due = f"Decide by {slack_date(t.expires_at)}"
        if ctx.now is not None and as_utc(ctx.now) >= as_utc(t.expires_at):
            due += " · *deadline passed*"
        facts.append(due)
    return context(BLOCK_FACTS, facts)


def progress_block(ctx: CardContext) -> Block | None:
    t = ctx.ticket
    needed = t.route.approvals_required
    if needed <= 1:
        return None
    done = len(t.approvals)
    who = f": {mentions(t.approvals, acting_for=t.acting_for)}" if t.approvals else ""
    return section(BLOCK_PROGRESS, f"*{done} of {needed} approvals*{who}")


def question_block(ctx: CardContext) -> Block:
    asked = ctx.last(DecisionKind.REQUEST_INFO)
    if asked is None:
        return section(BLOCK_QUESTION, "❓ *Waiting for more information from the agent.*")
    return section(
        BLOCK_QUESTION,
        f"❓ {mention(asked.reviewer)} *asked the agent:* {ctx.text(asked.reason or '', 2000)}"
        f"\n_Waiting for the answer; you can still decide now._",
    )


def diff_block(ctx: CardContext) -> Block | None:
    """Each changed argument as ``before → after`` (proposed vs. what will run)."""
    before, after = ctx.ticket.args, ctx.ticket.final_args
    lines = []
    for key in ordered_keys({**before, **after}):
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if old == new and type(old) is type(new):
            continue
        change = f"{_side(ctx, key, old)} → {_side(ctx, key, new)}"
        lines.append(f"• *{esc(key, LABEL_LIMIT)}*: {change}")
    if not lines:
        return None
    body, _ = fit_lines(lines, SECTION_TEXT - 40, "…and {n} more changes")
    return section(BLOCK_DIFF, f"*Changes*\n{body}")


def _side(ctx: CardContext, key: str, value: Any) -> str:
    if value is _MISSING:
        return "_(not set)_"
    shown = ctx.red.arg(key, value)
    return MASK if shown == MASK else inline(shown, 400)[0]


def ticket_block(ctx: CardContext) -> Block:
    t = ctx.ticket
    return context(
        BLOCK_TICKET,
        [f"Ticket {code_inline(t.id, 300)} · opened {slack_date(t.created_at)}"],
    )


def fallback(ctx: CardContext, lead: str) -> str:
    """Notification text: the lead plus the summary or reason, never an argument value. After
    an edit the agent's summary no longer describes what would run, so it is left out."""
    t = ctx.ticket
    about, _ = esc_flag(ctx.red.text((None if t.edited else t.summary) or t.reason or ""), 300)
    what = esc(t.action, 200) + (" (edited by a reviewer)" if t.edited else "")
    return f"{lead}: {what}" + (f" — {about}" if about.strip() else "")
