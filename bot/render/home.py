"""App Home: the reviewer's own queue, soonest deadline first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.render.blocks import (
    MAX_VIEW_BLOCKS,
    Block,
    View,
    block_id,
    context,
    header,
    section,
)
from bot.render.parts import CardContext, happens, tier_label
from bot.render.text import as_utc, duration, esc, link, mention, slack_date
from store.models import ReviewType, Ticket, TicketStatus

_KIND = {
    ReviewType.APPROVAL: "approval",
    ReviewType.EDIT: "content to review",
    ReviewType.ESCALATION: "agent asks for a human",
}


def render_home(
    user_id: str, tickets: Sequence[tuple[Ticket, str | None]], now: datetime,
) -> View:
    """The Home tab: requests ``user_id`` may decide, each with its permalink (if known)."""
    queue = sorted(tickets, key=lambda tp: (as_utc(tp[0].expires_at), as_utc(tp[0].created_at)))
    blocks: list[Block] = [
        header("signoff_home_header", "Your review queue"),
        context("signoff_home_summary", [_summary(user_id, len(queue), now)]),
    ]
    if not queue:
        blocks.append(section(
            "signoff_home_empty",
            "🎉 *Nothing is waiting for you.* New requests you can decide will show up here.",
        ))
        return {"type": "home", "blocks": blocks}
    room = MAX_VIEW_BLOCKS - len(blocks)
    shown = queue if len(queue) <= room else queue[: room - 1]
    used: set[str] = set()
    for ticket, permalink in shown:
        bid = block_id("signoff_home_t:", ticket.id)
        while bid in used:
            bid = block_id("signoff_home_t:", f"{ticket.id}#{len(used)}")
        used.add(bid)
        blocks.append(section(bid, _item(ticket, permalink, now)))
    if len(shown) < len(queue):
        more = len(queue) - len(shown)
        blocks.append(context("signoff_home_more", [f"…and {more} more waiting for you."]))
    return {"type": "home", "blocks": blocks}


def _summary(user_id: str, count: int, now: datetime) -> str:
    waiting = "1 request" if count == 1 else f"{count} requests"
    return f"{mention(user_id)} · {waiting} waiting for you · updated {slack_date(now)}"


def _item(ticket: Ticket, permalink: str | None, now: datetime) -> str:
    ctx = CardContext.build(ticket)
    title = f"{tier_label(ticket)} · *{esc(ticket.action, 200)}* · {_KIND[ticket.review_type]}"
    about = happens(ctx, 500) if ticket.edited else ctx.text(ticket.summary or ticket.reason, 500)
    left = as_utc(ticket.expires_at) - as_utc(now)
    due = (f"⏳ {duration(left)} left, until {slack_date(ticket.expires_at)}"
           if left.total_seconds() > 0 else "⏳ *deadline passed*")
    facts = [due, f"for {mention(ticket.requested_by)}"]
    if ticket.status == TicketStatus.NEEDS_INFO:
        facts.append("❓ waiting for the agent's answer")
    if ticket.route.approvals_required > 1:
        facts.append(f"{len(ticket.approvals)} of {ticket.route.approvals_required} approvals")
    if permalink:
        facts.append(link(permalink, "Open the card"))
    lines = [title, about, " · ".join(facts)]
    return "\n".join(line for line in lines if line)
