"""Break-glass surfaces: the modal that asks for a justification, the loud post in the
security channel (with its Witness button), the unwitnessed-override DM, the note in the
card's thread, and what the clicker is told."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bot.render.blocks import (
    Block,
    Message,
    View,
    actions,
    button,
    context,
    header,
    input_block,
    message,
    modal,
    section,
    text_input,
)
from bot.render.ids import (
    ACTION_WITNESS,
    CALLBACK_BREAK_GLASS,
    JUSTIFICATION_ACTION,
    JUSTIFICATION_BLOCK,
)
from bot.render.modals import encode_private_metadata
from bot.render.parts import CardContext, tier_label
from bot.render.text import code_inline, esc, mention, slack_date
from store.models import MAX_JUSTIFICATION, BreakGlass, Ticket

MISSING_JUSTIFICATION = ("A justification is required: say why this cannot wait for an "
                         "approval. It is posted to the security channel and kept in the audit.")
NOT_ALLOWED = ("Break-glass is not available for this request: policy does not allow it for "
               "this action (or no longer does). Nothing was recorded.")
NOT_A_RESPONDER = ("You are not an authorised break-glass responder for this request, so "
                   "nothing was recorded.")
OWN_REQUEST = ("Nobody breaks glass on a request made on their behalf, so nothing was "
               "recorded. Ask another responder.")
WITNESSED = "Thank you: you witnessed this break-glass. It is recorded in the audit."
WITNESS_SELF = "You broke glass on this request, so you cannot witness it: a second person must."
WITNESS_REQUESTER = ("The request was made on your behalf, so you cannot witness its "
                     "break-glass: a second person must.")
NOT_A_WITNESS = ("Only the route's approvers, its on-call engineers and break-glass "
                 "responders may witness a break-glass. Nothing was recorded.")
NO_BREAK_GLASS = "There is no break-glass on this request to witness."
WITNESS_UNRECORDED = ("Your witness did not count: signoff could not record it (its database "
                      "did not answer). Nothing changed; click Witness again in a moment.")


def _duration(value: timedelta) -> str:
    """``15m``, ``1h30m``: the way signoff.yml writes durations."""
    seconds, out = int(value.total_seconds()), ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


def already_witnessed(record: BreakGlass) -> str:
    return f"{mention(record.witnessed_by)} already witnessed this break-glass."


def render_break_glass_modal(ticket: Ticket, *, witness_within: timedelta,
                             origin: tuple[str, str] | None = None) -> View:
    """Run the request now, alone: a mandatory justification, and what follows."""
    intro = (f"🚨 *Break glass:* `{esc(ticket.action, 200)}` runs now with the arguments on "
             "the card, without anyone else's approval.\nThis is posted loudly to the "
             f"security channel, and a second person must witness it within "
             f"*{_duration(witness_within)}*, or it escalates along the on-call chain "
             "as an unwitnessed override. Use it only when waiting would do more harm.")
    blocks = [
        context("signoff_modal_about", [f"{tier_label(ticket)} · *{esc(ticket.action, 200)}* "
                                        f"· ticket {code_inline(ticket.id, 300)}"]),
        section("signoff_modal_intro", intro),
        input_block(JUSTIFICATION_BLOCK, "Why can this not wait for an approval?", text_input(
            JUSTIFICATION_ACTION, multiline=True, min_length=1, max_length=MAX_JUSTIFICATION,
            placeholder="e.g. Payments are failing for every customer; the on-call lead is "
                        "unreachable."), hint="Required. Posted to the security channel."),
    ]
    return modal(CALLBACK_BREAK_GLASS, "Break glass", blocks, submit="Break glass",
                 metadata=encode_private_metadata(ticket, origin))


def parse_justification(state_values: Mapping[str, Any]) -> str:
    value = state_values.get(JUSTIFICATION_BLOCK, {}).get(JUSTIFICATION_ACTION, {}).get("value")
    return value.strip() if isinstance(value, str) else ""


def _facts(ticket: Ticket, record: BreakGlass) -> str:
    ctx = CardContext.build(ticket)
    return (f"*Action:* `{esc(ticket.action, 200)}` · {tier_label(ticket)} · route "
            f"*{esc(ticket.route.name, 100)}*\n*Requested by:* {mention(ticket.requested_by)} "
            f"· *rule:* {esc(record.rule, 300)}\n*Justification:* "
            f"{ctx.text(record.justification, 2000)}")


def _witness_block(ticket: Ticket, record: BreakGlass) -> Block:
    if record.witnessed:
        late = (record.witnessed_at is not None and record.witnessed_at > record.witness_due_at)
        return section("signoff_bg_witness", f"✅ Witnessed by {mention(record.witnessed_by)}"
                       + (" (late)" if late else "")
                       + (f" · {slack_date(record.witnessed_at)}" if record.witnessed_at else ""))
    return actions("signoff_bg_actions", [button("Witness", ACTION_WITNESS, ticket.id,
                                                 style="primary")])


def with_witness_button(blocks: list[Block], ticket: Ticket) -> list[Block]:
    """A decided card's blocks with the Witness button before its last (ticket) block."""
    button_row = actions("signoff_bg_actions", [button("Witness break-glass", ACTION_WITNESS,
                                                       ticket.id, style="primary")])
    return [*blocks[:-1], button_row, *blocks[-1:]] if blocks else [button_row]


def render_security_post(ticket: Ticket, record: BreakGlass) -> Message:
    """The security channel's post: loud, with the Witness button until somebody uses it."""
    lead = (f"🚨 BREAK-GLASS: {mention(record.responder)} ran {ticket.action} without an "
            "approval")
    due = (f"A second person must witness it by {slack_date(record.witness_due_at)}, or it "
           "escalates along the on-call chain.")
    if record.escalation_level:
        due = (f"⚠️ *Unwitnessed override*: nobody witnessed it by "
               f"{slack_date(record.witness_due_at)}; escalated to level "
               f"{record.escalation_level} of the chain.")
    blocks: list[Block | None] = [
        header("signoff_bg_header", "🚨 Break-glass"),
        section("signoff_bg_lead", f"*{esc(lead, 500)}* · {slack_date(record.broken_at)}"),
        section("signoff_bg_facts", _facts(ticket, record)),
        section("signoff_bg_due", due) if not record.witnessed else None,
        _witness_block(ticket, record),
        context("signoff_bg_ticket", [f"ticket {code_inline(ticket.id, 300)}"]),
    ]
    return message(lead, [b for b in blocks if b is not None])


def render_unwitnessed_dm(ticket: Ticket, record: BreakGlass, level: int) -> Message:
    """The chain's DM: an override nobody witnessed."""
    lead = (f"⚠️ Unwitnessed break-glass: {mention(record.responder)} ran {ticket.action} "
            "without an approval, and nobody witnessed it in time")
    blocks: list[Block] = [
        section("signoff_bg_lead", f"*{esc(lead, 500)}* (escalation level {level})."),
        section("signoff_bg_facts", _facts(ticket, record)),
        _witness_block(ticket, record),
        context("signoff_bg_ticket", [f"ticket {code_inline(ticket.id, 300)} · "
                                      f"run at {slack_date(record.broken_at)}"]),
    ]
    return message(lead, blocks)


def render_break_glass_note(ticket: Ticket, record: BreakGlass) -> Message:
    """In the card's thread: what happened, and where it is to be witnessed."""
    where = (f" Posted to <#{record.security_channel}> for a witness."
             if record.security_channel else "")
    text = (f"🚨 {mention(record.responder)} broke glass: this request was approved without "
            f"a reviewer's approval.{where}")
    return message(text, [section("signoff_bg_note", text)])


def render_witnessed_note(record: BreakGlass) -> Message:
    """In the card's thread: the break-glass was witnessed."""
    late = " (late: after its deadline)" if (
        record.witnessed_at is not None and (record.witnessed_at > record.witness_due_at
                                             or record.escalation_level)) else ""
    text = (f"✅ {mention(record.witnessed_by)} witnessed the break-glass by "
            f"{mention(record.responder)}{late}.")
    return message(text, [section("signoff_bg_witnessed", text)])
