"""Text values longer than one Slack input, split across several consecutive inputs.

A ``plain_text_input`` holds at most 3,000 characters, so a longer value (an email body, say)
is shown in parts of at most ``PART_SIZE`` UTF-16 units each, leaving every box room to grow.
Parts end at a line break or a space near the size where there is one, and never inside a
surrogate pair, a CR LF pair or a combining sequence. Joining the parts with nothing between
them gives back the value exactly, which is how a submission is read.
"""

from __future__ import annotations

import unicodedata

from bot.render.blocks import INPUT_MAX, block_id
from bot.render.ids import EDIT_FIELD_PREFIX, EDIT_PART_PREFIX

PART_SIZE = 2_500
"""Units each part starts with at most: the other 500 of a box's 3,000 are room to type."""
MAX_PARTS = 20
"""Parts one value may take; a longer value stays as it is, with a note saying why."""
MAX_SPLIT_PARTS = 40
"""Parts all split values of one edit form may take together, to keep the form a sane size."""
SEARCH = PART_SIZE // 3
"""How far back from the size a part's end looks for a line break, then a space."""

_JOINERS = frozenset("\u200c\u200d")  # zero-width (non-)joiners bind their neighbours


def split_text(text: str, size: int = PART_SIZE) -> list[str]:
    """``text`` in parts of at most ``size`` (<= 3,000) UTF-16 units; ``"".join`` restores it."""
    size = max(min(size, INPUT_MAX), 8)
    parts: list[str] = []
    start = 0
    while start < len(text):
        end = _reach(text, start, size)
        if end < len(text):
            end = _boundary(text, start, end)
        parts.append(text[start:end])
        start = end
    return parts


def _reach(text: str, start: int, size: int) -> int:
    """The end of the longest run from ``start`` that is at most ``size`` UTF-16 units."""
    head = text[start:start + size]
    if head.isascii():
        return start + len(head)
    units = 0
    for at in range(start, len(text)):
        units += 2 if ord(text[at]) > 0xFFFF else 1
        if units > size:
            return at
    return len(text)


def _boundary(text: str, start: int, end: int) -> int:
    """Where a part that may reach ``end`` should stop: after a line break or space near it."""
    floor = max(start + 1, end - SEARCH)
    for mark in ("\n", " "):
        found = text.rfind(mark, floor, end)
        if found >= 0:
            return found + 1
    return _safe_cut(text, start, end)


def _safe_cut(text: str, start: int, end: int) -> int:
    """Step back from ``end`` out of pairs and sequences that must stay in one box."""
    floor = max(start + 1, end - 64)
    at = end
    while at > floor and _binds(text[at - 1], text[at]):
        at -= 1
    return end if _binds(text[at - 1], text[at]) else at


def _binds(before: str, after: str) -> bool:
    """Would cutting between these two characters split something that belongs together?"""
    if "\ud800" <= before <= "\udbff" and "\udc00" <= after <= "\udfff":
        return True  # a surrogate pair (only in text that came in as lone surrogates)
    if before == "\r" and after == "\n":
        return True
    if before in _JOINERS or after in _JOINERS:
        return True
    return (unicodedata.combining(after) != 0 or "\ufe00" <= after <= "\ufe0f"
            or "\U0001f3fb" <= after <= "\U0001f3ff")  # combining marks, variants, skin tones


def part_block_id(field_block_id: str, number: int) -> str:
    """The block id of part ``number`` (from 1) of the field whose block id is given.

    Part 1 keeps the field's own id, so anything addressed to the field lands on it; the
    others carry a prefix no field id can start with.
    """
    if number == 1:
        return field_block_id
    key = field_block_id.removeprefix(EDIT_FIELD_PREFIX)
    return block_id(f"{EDIT_PART_PREFIX}{number}:", key)


def part_label(name: str, number: int, count: int) -> str:
    return f"{name} (part {number} of {count})"
