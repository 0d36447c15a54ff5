"""A plan's card: its steps in order (each editable before approval), then, once approved,
each step's progress (done / failed / running / remaining) and a "Stop plan" button."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from bot.render.blocks import (
    Block,
    Message,
    View,
    actions,
    button,
    confirm,
    context,
    message,
    section,
)
from bot.render.decided import decided_lead
from bot.render.edit_form import render_edit_modal
from bot.render.ids import (
    ACTION_APPROVE,
    ACTION_REJECT,
    ACTION_REQUEST_INFO,
    BLOCK_ACTIONS,
    BLOCK_INTRO,
    BLOCK_OUTCOME,
    button_value,
)
from bot.render.parts import (
    CardContext,
    evidence_block,
    facts_block,
    fallback,
    header_block,
    ordered_keys,
    progress_block,
    question_block,
    reason_block,
    ticket_block,
)
from bot.render.text import code_inline, duration, esc, mentions, slack_date
from bot.render.values import inline
from store.models import Decision as _Decision
from store.models import (
    PlanProgress,
    PlanStep,
    PlanStepState,
    RiskTier,
    Ticket,
    TicketStatus,
    plan_steps,
)

ACTION_PLAN_STOP: Final = "signoff_plan_stop"
ACTION_PLAN_EDIT_STEP: Final = "signoff_plan_edit_step"
"""Followed by ``:<step index>`` (one button per step; action ids are unique per card)."""
CALLBACK_PLAN_EDIT_STEP: Final = "signoff_plan_edit_step_modal"
BLOCK_PLAN_STEP: Final = "signoff_plan_step"
BLOCK_PLAN_PROGRESS: Final = "signoff_plan_progress"
STEP_ICON = {
    PlanStepState.REMAINING: "▫️", PlanStepState.RUNNING: "⏳", PlanStepState.DONE: "✅",
    PlanStepState.FAILED: "💥", PlanStepState.STOPPED: "⛔", PlanStepState.EXPIRED: "⏰",
    PlanStepState.OUTCOME_UNKNOWN: "❔",
}
ENDED = {
    "done": "✅ *Plan complete:* every step ran.",
    "failed": "💥 *Plan ended:* a step failed, so the steps after it did not run.",
    "stopped": "⛔ *Plan stopped* by {who}: nothing more of it runs.",
    "expired": "⏰ *Plan expired:* its steps' time ran out; the steps left did not run.",
    "outcome_unknown": "❔ *Plan halted:* a step never reported its outcome (it may or may "
                       "not have run); a human must check. The steps after it did not run.",
}


def render_plan_card(ticket: Ticket, *, decisions: Sequence[_Decision] = (),
                     progress: PlanProgress | None = None,
                     now: datetime | None = None) -> Message:
    ctx = CardContext.build(ticket, decisions, now=now)
    steps = progress.steps if progress is not None else _steps(ticket)
    lead = (f"Plan of {len(steps)} steps to approve" if ticket.status.is_open
            else decided_lead(ctx))
    return message(fallback(ctx, lead), plan_blocks(ctx, progress))


def plan_blocks(ctx: CardContext, progress: PlanProgress | None) -> list[Block]:
    """The plan card's blocks (also what an on-call DM copy of it wraps)."""
    ticket = ctx.ticket
    steps = progress.steps if progress is not None else _steps(ticket)
    blocks: list[Block | None] = [header_block(ticket)]
    if ticket.status.is_open:
        blocks += [section(BLOCK_INTRO, _intro(ticket, progress)),
                   *_step_blocks(ctx, steps, editable=True),
                   reason_block(ctx), evidence_block(ctx), progress_block(ctx),
                   facts_block(ctx)]
        if ticket.status == TicketStatus.NEEDS_INFO:
            blocks.append(question_block(ctx))
        blocks.append(actions(BLOCK_ACTIONS, _decision_buttons(ctx)))
    else:
        blocks += [section(BLOCK_OUTCOME, _outcome(ctx)),
                   *_step_blocks(ctx, steps, editable=False),
                   _progress(ticket, progress), reason_block(ctx),
                   facts_block(ctx, deadline=False)]
        if _stoppable(ticket, progress):
            blocks.append(actions(BLOCK_ACTIONS, [_stop_button(ticket)]))
    blocks.append(ticket_block(ctx))
    return [b for b in blocks if b is not None]


def _steps(ticket: Ticket) -> tuple[PlanStep, ...]:
    try:
        return plan_steps(ticket.final_args)
    except ValueError:
        return ()


def _intro(ticket: Ticket, progress: PlanProgress | None) -> str:
    within = f" within {duration(progress.deadline)} of approval" if progress else ""
    return ("📋 *A plan to approve as a whole.* Approving runs exactly these steps, in this "
            f"order, each once{within}; anything else needs its own approval. You can edit a "
            "step first, and stop the rest of the plan at any time.")


def _step_blocks(ctx: CardContext, steps: Sequence[PlanStep], *,
                 editable: bool) -> list[Block]:
    proposed = _proposed(ctx.ticket)
    blocks = []
    for step in steps[:40]:
        edited = proposed.get(step.index) != (step.action, step.args)
        icon = "" if editable else f"{STEP_ICON[step.state]} "
        text = (f"{icon}*{step.index + 1}. {esc(step.action, 200)}*"
                f"{' _(edited by a reviewer)_' if edited else ''}\n{_args_line(ctx, step)}")
        if step.summary or step.error:
            text += f"\n_{ctx.text(step.error or step.summary, 300)}_"
        accessory = (button("Edit step", f"{ACTION_PLAN_EDIT_STEP}:{step.index}",
                            button_value(ctx.ticket.id, ctx.ticket.version))
                     if editable else None)
        blocks.append(section(f"{BLOCK_PLAN_STEP}_{step.index}", text, accessory=accessory))
    return blocks


def _args_line(ctx: CardContext, step: PlanStep) -> str:
    keys = ordered_keys(step.args)
    pairs = [f"{esc(k, 50)}: {inline(ctx.red.arg(k, step.args[k]), 200)[0]}" for k in keys[:8]]
    more = f" (+{len(keys) - 8} more)" if len(keys) > 8 else ""
    return (" · ".join(pairs) or "_no arguments_") + more


def _proposed(ticket: Ticket) -> dict[int, tuple[str, dict[str, Any]]]:
    try:
        return {s.index: (s.action, s.args) for s in plan_steps(ticket.args)}
    except ValueError:
        return {}


def _decision_buttons(ctx: CardContext) -> list[Block]:
    t, value = ctx.ticket, button_value(ctx.ticket.id, ctx.ticket.version)
    dialog = confirm("Approve a critical plan?", "Every step will run with the arguments "
                     "shown, in order. This cannot be undone from Slack.", "Approve") \
        if t.tier == RiskTier.CRITICAL else None
    return [button("Approve plan", ACTION_APPROVE, value, style="primary",
                   confirm_dialog=dialog),
            button("Reject", ACTION_REJECT, value, style="danger"),
            button("Request info", ACTION_REQUEST_INFO, value)]


def _outcome(ctx: CardContext) -> str:
    t = ctx.ticket
    who = mentions(t.approvals) if t.approvals else ""
    line = decided_lead(ctx) + (f" by {who}" if who else "")
    return line + (f" · {slack_date(t.decided_at)}" if t.decided_at else "")


def _progress(ticket: Ticket, progress: PlanProgress | None) -> Block | None:
    if progress is None or ticket.status != TicketStatus.APPROVED:
        return None
    counts = (f"{progress.count(PlanStepState.DONE)} done · "
              f"{progress.count(PlanStepState.FAILED)} failed · "
              f"{progress.count(PlanStepState.RUNNING)} running · "
              f"{progress.count(PlanStepState.REMAINING)} remaining")
    if progress.ended is not None:
        who = mentions([progress.ended_by]) if progress.ended_by else "a reviewer"
        head = ENDED.get(progress.ended, progress.ended).format(who=who)
    elif progress.deadline_at is not None:
        head = f"▶️ *Running:* steps may start until {slack_date(progress.deadline_at)}."
    else:
        head = "▶️ *Running.*"
    return section(BLOCK_PLAN_PROGRESS, f"{head}\n{counts}")


def _stoppable(ticket: Ticket, progress: PlanProgress | None) -> bool:
    return (ticket.status == TicketStatus.APPROVED and progress is not None
            and progress.ended is None)


def _stop_button(ticket: Ticket) -> Block:
    return button("Stop plan", ACTION_PLAN_STOP, button_value(ticket.id, ticket.version),
                  style="danger", confirm_dialog=confirm(
                      "Stop the rest of this plan?", "No further step will start. A step "
                      "already running finishes and reports.", "Stop plan"))


# -- the per-step edit form, and what steps say in the card's thread ----------------------


def render_step_edit_modal(ticket: Ticket, index: int,
                           origin: tuple[str, str] | None = None) -> View:
    """The edit form (the one every card uses) for one step's arguments; submitting it
    approves the plan with that step changed."""
    step = _steps(ticket)[index]
    view_of_step = ticket.model_copy(update={
        "action": step.action, "args": step.args, "final_args": step.args,
        "args_schema": None})
    view = render_edit_modal(view_of_step, None, origin=origin)
    meta = json.loads(view["private_metadata"] or "{}")
    meta["s"] = index
    view["callback_id"] = CALLBACK_PLAN_EDIT_STEP
    view["private_metadata"] = json.dumps(meta, separators=(",", ":"))
    view["blocks"].insert(1, context("signoff_plan_edit_about", [
        f"Step {index + 1} of the plan {code_inline(ticket.id, 100)}; the other steps stay "
        "as they are."]))
    return view


def step_of_metadata(text: str) -> int | None:
    try:
        value = json.loads(text or "null").get("s")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def step_view(ticket: Ticket, index: int) -> Ticket:
    """The plan's ticket seen as its step ``index`` (for parsing the step's edit form)."""
    step = _steps(ticket)[index]
    return ticket.model_copy(update={"action": step.action, "args": step.args,
                                     "final_args": step.args, "args_schema": None})


def render_step_result(ticket: Ticket, step: PlanStep) -> Message:
    ctx = CardContext.build(ticket)
    what = f"{STEP_ICON[step.state]} Step {step.index + 1} ({code_inline(step.action, 200)})"
    detail = step.error if step.state == PlanStepState.FAILED else step.summary
    text = f"{what} {step.state.value}" + (f": {ctx.text(detail, 2000)}" if detail else "")
    return message(text, [section("signoff_note", text),
                          context("signoff_ticket", [f"plan {code_inline(ticket.id, 300)}"])])


def render_plan_stopped(ticket: Ticket, by: str) -> Message:
    text = f"⛔ {mentions([by])} stopped the plan: no further step will start."
    return message(text, [section("signoff_note", text),
                          context("signoff_ticket", [f"plan {code_inline(ticket.id, 300)}"])])
