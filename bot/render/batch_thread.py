"""Thread replies under a batch card that speak for several of its requests at once: the
shared reminder and the shared escalation note (one reply where each request would have
posted its own)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.render.blocks import Message, context, message, section
from bot.render.ids import BLOCK_NOTE, BLOCK_TICKET
from bot.render.text import code_inline, duration, esc, fit_lines, mention_any, slack_date
from store.models import Ticket

IDS_SHOWN = 5


def _requests(n: int) -> str:
    return f"*{n}* request{'s' if n != 1 else ''} on this card"


def _ids(tickets: Sequence[Ticket]) -> str:
    shown = ", ".join(code_inline(t.id, 60) for t in tickets[:IDS_SHOWN])
    more = len(tickets) - IDS_SHOWN
    action = esc(tickets[0].action, 150) if tickets else ""
    return f"{action} · {shown}" + (f" and {more} more" if more > 0 else "")


def _note(tickets: Sequence[Ticket], text: str) -> Message:
    return message(text, [section(BLOCK_NOTE, text), context(BLOCK_TICKET, [_ids(tickets)])])


def render_batch_reminder(waiting: Sequence[Ticket], waited: Sequence[timedelta],
                          on_card: int) -> Message:
    """One nudge for the requests of a batch card that are due a reminder together:
    ``waiting`` (still pending), how long each has waited, and how many requests the card
    lists as waiting in all (``on_card``)."""
    n = len(waiting)
    verb = "have" if n != 1 else "has"
    text = (f"⏰ {_requests(n)} {verb} waited *{duration(min(waited, default=timedelta()))}*"
            " or longer for a decision.")
    if waiting:
        first = min(t.expires_at for t in waiting)
        text += f" The first expires {slack_date(first)}; if nobody decides, nothing runs."
    if on_card > n:
        text += f" {on_card} requests on the card are waiting in all."
    who, _ = fit_lines([mention_any(a) for a in waiting[0].route.approvers] if waiting else [],
                       1200, "+{n} more")
    if who:
        text += "\nReviewers: " + who.replace("\n", ", ")
    return _note(waiting, text)


def render_batch_escalation_note(tickets: Sequence[Ticket], level: int,
                                 notified: Sequence[str]) -> Message:
    """One note that these requests of a batch card climbed to on-call level ``level``."""
    who, _ = fit_lines([mention_any(u) for u in notified], 1500, "+{n} more")
    people = who.replace("\n", ", ") or "nobody (no one is on call at this level)"
    text = (f"📟 {_requests(len(tickets))} escalated to on-call level *{level}*: "
            f"notified {people}.")
    return _note(tickets, text)
