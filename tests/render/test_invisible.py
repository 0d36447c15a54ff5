"""Characters that render as nothing are shown as visible tokens on every surface, so the
value a reviewer reads is the value the tool receives (property-based)."""

from __future__ import annotations

import json
import os
import unicodedata
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render import (
    render_card,
    render_escalation_dm,
    render_home,
    render_show_all_modal,
)
from bot.render.text import visible_code
from tests.render.render_checks import NOW, make_ticket

NAMED = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200f", "\u061c", "\u200e",
         "\u00ad", "\u202e", "\u2066", "\U000e0041", "\U000e007f", "\U000e0001"]
UTF8 = st.characters(codec="utf-8")  # what JSON arguments can hold (no lone surrogates)
invisible = st.one_of(st.sampled_from(NAMED), st.characters(categories=["Cf"]))
EXAMPLES = settings(max_examples=int(os.environ.get("SIGNOFF_RENDER_EXAMPLES", "60")),
                    deadline=None)


def rendered(value: str) -> list[tuple[str, str]]:
    """Every surface that shows ``value`` as an argument, as (name, text) pairs."""
    args = {"customer": value, "nested": {"note": value}}
    ticket = make_ticket(args={"customer": "cus_1"}, final_args=args)
    home = render_home("U0LEAD", [(ticket, None)], NOW - timedelta(minutes=1))
    return [(name, json.dumps(surface, ensure_ascii=False)) for name, surface in (
        ("card", render_card(ticket)), ("dm", render_escalation_dm(ticket, 1)),
        ("show all", render_show_all_modal(ticket)), ("home", home))]


def _shown_raw(text: str, char: str) -> bool:
    # The only invisible character signoff writes itself: a word joiner that defuses @channel.
    return char in text.replace("@\u2060", "@")


@EXAMPLES
@given(st.text(UTF8, max_size=20), invisible, st.text(UTF8, max_size=20))
def test_invisible_characters_in_arguments_are_shown(head: str, char: str, tail: str) -> None:
    value = f"cus{head}{char}{tail}"
    for name, text in rendered(value):
        assert visible_code(char) in text, name
        assert not _shown_raw(text, char), name


@EXAMPLES
@given(st.text(st.one_of(UTF8, invisible), min_size=1, max_size=60))
def test_no_surface_carries_a_character_that_renders_as_nothing(value: str) -> None:
    for name, text in rendered(value):
        shown = "".join(_strings(json.loads(text))).replace("@\u2060", "@")
        raw = [hex(ord(c)) for c in shown if unicodedata.category(c) == "Cf"]
        assert raw == [], name


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
