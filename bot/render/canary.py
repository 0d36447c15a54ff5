"""What a reviewer is told, privately, right after deciding a canary (a test request written
to be rejected)."""

from __future__ import annotations

from bot.render.blocks import Message, message, section
from bot.render.text import esc
from store.models import Ticket

BLOCK_CANARY = "signoff_canary_note"


CANARY_NOTE_LIMIT = 1500


def render_canary_missed(ticket: Ticket) -> Message:
    """After approving a canary: it was a test, nothing ran, and what to have noticed."""
    lesson = esc(ticket.canary_lesson or "it was written to be rejected", CANARY_NOTE_LIMIT)
    text = (f"🧪 That request was a *canary*: a test your team wrote to check that such "
            f"requests get rejected. You approved it, so it counts as a miss; nothing ran "
            f"(there is no tool behind it). What to notice next time: {lesson}")
    return message(text, [section(BLOCK_CANARY, text)])


def render_canary_caught(ticket: Ticket) -> Message:
    """After rejecting (or taking over) a canary: well caught."""
    lesson = esc(ticket.canary_lesson or "it was written to be rejected", CANARY_NOTE_LIMIT)
    text = (f"🧪 Well caught: that request was a *canary*, a test your team wrote to be "
            f"rejected ({lesson}). It counts as a catch; nothing ran.")
    return message(text, [section(BLOCK_CANARY, text)])


__all__ = ["render_canary_caught", "render_canary_missed"]
