"""When an edit sends a request to another route: the card left behind, and the thread notes.

The old card keeps what changed and where the request went, and loses its buttons: the
decision now belongs to the new route's approvers, on the new card.
"""

from __future__ import annotations

import re
from typing import Final

from bot.render.blocks import Message, context, message, section
from bot.render.ids import BLOCK_NOTE, BLOCK_TICKET
from bot.render.parts import CardContext, diff_block, header_block, ticket_block, tier_label
from bot.render.text import code_inline, esc, fit_lines, mention, mention_any
from store.models import Ticket, is_user_group

BLOCK_MOVED: Final = "signoff_moved"

_CHANNEL_ID_RE = re.compile(r"^[CG][A-Z0-9]{2,40}$")


def channel_link(channel: str) -> str:
    """``<#C…>`` for a channel id (Slack shows its name); anything else as escaped text."""
    if _CHANNEL_ID_RE.match(channel):
        return f"<#{channel}>"
    return "#" + esc(channel.removeprefix("#"), 80)


def needs_line(ticket: Ticket) -> str:
    """``needs approval by <@U…> or <@U…>`` (with the count when it takes several people)."""
    route = ticket.route
    who, _ = fit_lines([mention_any(a) for a in route.approvers], 1200, "+{n} more")
    people = who.replace("\n", ", ") or "nobody (the route lists no approvers)"
    if route.approvals_required > 1:
        return f"needs {route.approvals_required} approvals from distinct people among {people}"
    if len(route.approvers) > 1 or any(is_user_group(a) for a in route.approvers):
        return f"needs approval by one of {people}"
    return f"needs approval by {people}"


def _why(ticket: Ticket, editor: str) -> str:
    rule = (f"rule {code_inline(ticket.policy_rule, 300)}" if ticket.policy_rule
            else "policy")
    return (f"a *{tier_label(ticket)}* review after {mention(editor)}'s edit "
            f"({rule}, route *{esc(ticket.route.name, 100)}*)")


def render_moved_card(ticket: Ticket, editor: str, *,
                      masked: frozenset[str] = frozenset()) -> Message:
    """The old card once the request has moved: where it went, why, who decides; no buttons."""
    ctx = CardContext.build(ticket, masked=masked)
    where = channel_link(ticket.route.channel)
    line = f"➡️ *Moved to {where}* for {_why(ticket, editor)}: {needs_line(ticket)}."
    blocks = [header_block(ticket), section(BLOCK_MOVED, line), diff_block(ctx),
              ticket_block(ctx)]
    fallback = f"Moved to {where}: {esc(ticket.action, 200)} {needs_line(ticket)}"
    return message(fallback, [b for b in blocks if b is not None])


def render_moved_here_note(ticket: Ticket, editor: str, from_channel: str) -> Message:
    """The first reply under the new card: where the request came from, and why."""
    text = (f"↪️ Moved here from {channel_link(from_channel)} for {_why(ticket, editor)}. "
            "Approvals given before the edit no longer count.")
    return _note(ticket, text)


def render_moved_away_note(ticket: Ticket, editor: str) -> Message:
    """A reply under the old card, so people following its thread know where it went."""
    where = channel_link(ticket.route.channel)
    return _note(ticket, f"➡️ Moved to {where} for {_why(ticket, editor)}: "
                         f"{needs_line(ticket)}. Decide it there.")


def _note(ticket: Ticket, text: str) -> Message:
    blocks = [
        section(BLOCK_NOTE, text),
        context(BLOCK_TICKET, [f"{esc(ticket.action, 150)} · ticket "
                               f"{code_inline(ticket.id, 300)}"]),
    ]
    return message(text, blocks)
