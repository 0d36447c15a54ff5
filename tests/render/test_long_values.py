"""Text values longer than one Slack input: split across parts, joined back exactly."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from bot.render import (
    EDIT_VALUE_ACTION,
    initial_state_values,
    parse_edit_submission,
    render_edit_modal,
)
from bot.render.edit_split import MAX_PARTS, PART_SIZE, split_text
from bot.render.text import slen
from store.models import args_hash
from tests.render.render_checks import assert_fits_view, everything, make_ticket

EXAMPLES = settings(max_examples=int(os.environ.get("SIGNOFF_RENDER_EXAMPLES", "60")),
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PARAGRAPH = ("Dear customer, thank you for your patience while we looked into order 1042. "
             "We found the second charge and have reversed it.\n")
BODY = (PARAGRAPH * 60)[:7000]
PIECES = st.sampled_from(["\n", " ", "\r\n", "😀", "👨‍👩‍👧", "e\u0301", "🇩🇪", "👍🏽", "\t", "  "])
UNICODE = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


class Email(BaseModel):
    to: str
    subject: str
    body: str = Field(max_length=9000)


class Letter(BaseModel):
    to: str
    subject: str
    body: str


class Note(BaseModel):
    body: str | None = None


def email(body: str = BODY) -> dict[str, Any]:
    return {"to": "ana@example.com", "subject": "Your refund", "body": body}


def inputs(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in view["blocks"] if b["type"] == "input"]


def part_blocks(view: dict[str, Any], key: str = "body") -> list[dict[str, Any]]:
    return [b for b in inputs(view) if b["label"]["text"].startswith(f"{key} (part ")]


def typed(view: dict[str, Any], changes: dict[str, str]) -> dict[str, Any]:
    """The submitted state after the reviewer typed ``changes`` (block id -> text)."""
    state = initial_state_values(view)
    for block_id, text in changes.items():
        state[block_id][EDIT_VALUE_ACTION] = {"type": "plain_text_input", "value": text}
    return state


# -- splitting ----------------------------------------------------------------------------------

@EXAMPLES
@given(st.lists(UNICODE | PIECES, max_size=300), st.integers(8, 120))
def test_parts_join_back_exactly_and_fit(chunks: list[str], size: int) -> None:
    text = "".join(chunks)
    parts = split_text(text, size)
    assert "".join(parts) == text
    assert all(part and slen(part) <= size for part in parts)


@EXAMPLES
@given(st.lists(UNICODE | PIECES, min_size=1, max_size=40), st.integers(20, 200))
def test_long_unicode_values_round_trip_through_the_modal(chunks: list[str], times: int) -> None:
    body = "".join(chunks) * times
    ticket = make_ticket(args=email(body))
    view = render_edit_modal(ticket, Letter)
    assert_fits_view(view)
    result = parse_edit_submission(ticket, Letter, initial_state_values(view))
    assert result.ok and result.args == ticket.final_args and result.changed == ()
    parts = [b["element"].get("initial_value", "") for b in part_blocks(view)]
    if slen(body) > 3000:
        assert "".join(parts) == body and all(slen(p) <= 3000 for p in parts)


@EXAMPLES
@given(st.lists(UNICODE | PIECES, min_size=1, max_size=40), st.integers(80, 200), st.data())
def test_an_edited_part_is_exactly_what_runs(chunks: list[str], times: int,
                                             data: st.DataObject) -> None:
    ticket = make_ticket(args=email(("".join(chunks) or "x") * times))
    view = render_edit_modal(ticket, Letter)
    blocks = part_blocks(view)
    if len(blocks) < 2:
        return  # the value fits one input
    n = data.draw(st.integers(0, len(blocks) - 1))
    replacement = data.draw(st.text(max_size=200).map(lambda t: t + "!"))
    texts = [b["element"]["initial_value"] for b in blocks]
    texts[n] = replacement
    state = typed(view, {blocks[n]["block_id"]: replacement})
    result = parse_edit_submission(ticket, Letter, state)
    assert result.args == {**email(), "body": "".join(texts)} and result.changed == ("body",)


def test_parts_end_at_line_breaks_then_spaces() -> None:
    lines = split_text("".join(f"line {i} of a letter\n" for i in range(600)))
    assert len(lines) > 2 and all(p.endswith("\n") for p in lines[:-1])
    words = split_text("word " * 2000)
    assert all(p.endswith(" ") and slen(p) > PART_SIZE - 10 for p in words[:-1])


def test_cuts_never_split_pairs_or_sequences() -> None:
    size = 10
    for glue in ("\r\n", "👨\u200d👩\u200d👧", "e\u0301\u0302", "\ud83d\ude00", "👍🏽", "✌\ufe0f"):
        for lead in range(size):
            text = "a" * lead + glue + "b" * 20
            parts = split_text(text, size)
            assert "".join(parts) == text
            assert any(glue in p for p in parts), (glue, lead, parts)


def test_astral_characters_count_twice() -> None:
    parts = split_text("😀" * 4000)
    assert all(slen(p) <= PART_SIZE for p in parts) and len(parts) == 4
    assert "".join(parts) == "😀" * 4000


# -- the modal ----------------------------------------------------------------------------------

def test_a_7000_character_body_is_shown_in_three_parts() -> None:
    ticket = make_ticket(args=email())
    view = render_edit_modal(ticket, Email)
    assert_fits_view(view)
    parts = part_blocks(view)
    assert [b["label"]["text"] for b in parts] == [f"body (part {n} of 3)" for n in (1, 2, 3)]
    assert [b["block_id"] for b in parts] == ["arg:body", "argpart2:body", "argpart3:body"]
    for b in parts:
        el = b["element"]
        assert el["type"] == "plain_text_input" and el["multiline"] is True
        assert el["max_length"] == 3000 and slen(el["initial_value"]) <= PART_SIZE
        assert b["optional"] is True
    assert "".join(b["element"]["initial_value"] for b in parts) == BODY
    assert all(b["element"]["initial_value"].endswith("\n") for b in parts[:2])
    assert "joined exactly as typed" in parts[0]["hint"]["text"]
    assert "hint" not in parts[1] and "too long to edit here" not in everything(view)


def test_untouched_or_only_moved_text_approves_as_is() -> None:
    ticket = make_ticket(args=email(BODY + "  \n\n"))  # trailing whitespace included
    view = render_edit_modal(ticket, Email)
    untouched = parse_edit_submission(ticket, Email, initial_state_values(view))
    assert untouched.args == ticket.final_args and untouched.changed == ()
    assert args_hash(untouched.args) == ticket.final_args_hash  # the ledger sees an approval
    first, second = (b["element"]["initial_value"] for b in part_blocks(view)[:2])
    moved = typed(view, {"arg:body": first[:100], "argpart2:body": first[100:] + second})
    assert parse_edit_submission(ticket, Email, moved).changed == ()


def test_the_joined_value_is_validated_and_the_error_shown_on_the_changed_part() -> None:
    ticket = make_ticket(args=email())
    view = render_edit_modal(ticket, Email)
    third = part_blocks(view)[2]["element"]["initial_value"]
    grown = typed(view, {"argpart3:body": third + "x" * 2500})  # 9,500 > max_length 9,000
    result = parse_edit_submission(ticket, Email, grown)
    assert list(result.errors) == ["argpart3:body"]
    assert "9000" in result.errors["argpart3:body"]
    assert "all parts together" in result.errors["argpart3:body"]
    shrunk = typed(view, {"argpart3:body": third[:10]})
    assert parse_edit_submission(ticket, Email, shrunk).args == {
        **email(), "body": BODY[: len(BODY) - len(third) + 10]}


def test_emptying_every_part_of_a_required_or_nullable_value() -> None:
    ticket = make_ticket(args=email())
    view = render_edit_modal(ticket, Email)
    empty = {b["block_id"]: "" for b in part_blocks(view)}
    assert list(parse_edit_submission(ticket, Email, typed(view, empty)).errors) == ["arg:body"]
    note = make_ticket(args={"body": BODY})
    view = render_edit_modal(note, Note)
    empty = {b["block_id"]: "" for b in part_blocks(view)}
    assert parse_edit_submission(note, Note, typed(view, empty)).args == {"body": None}


def test_without_an_argument_model_long_text_is_split_too() -> None:
    ticket = make_ticket(args={"body": BODY, "count": 3})
    view = render_edit_modal(ticket, None)
    assert len(part_blocks(view)) == 3
    result = parse_edit_submission(ticket, None, typed(view, {"argpart2:body": "middle"}))
    parts = [b["element"]["initial_value"] for b in part_blocks(view)]
    assert result.args == {"body": parts[0] + "middle" + parts[2], "count": 3}


def test_secrets_are_never_split_or_shown() -> None:
    ticket = make_ticket(args={"api_key": "sk_live_" + "z" * 7000, "body": "hi"})
    view = render_edit_modal(ticket, None)
    assert "zzzz" not in everything(view) and part_blocks(view, "api_key") == []


def test_too_many_parts_for_one_value_stays_read_only_saying_why() -> None:
    body = "y" * (PART_SIZE * (MAX_PARTS + 1))
    ticket = make_ticket(args=email(body))
    view = render_edit_modal(ticket, None)
    assert_fits_view(view)
    assert part_blocks(view) == [] and "it would need 21 boxes" in everything(view)
    assert f"*body*: {len(body):,} characters, too long to edit here" in everything(view)
    assert parse_edit_submission(ticket, None, initial_state_values(view)).args == email(body)


def test_a_full_form_keeps_what_does_not_fit_read_only() -> None:
    args = {f"f{i:02}": "short" for i in range(95)} | {"body": BODY}
    ticket = make_ticket(args=args)
    view = render_edit_modal(ticket, None)
    assert_fits_view(view) and len(view["blocks"]) <= 100
    assert part_blocks(view) == [] and "no room left for the 3 boxes" in everything(view)
    assert parse_edit_submission(ticket, None, initial_state_values(view)).args == args


def test_split_values_share_a_budget_of_parts() -> None:
    long = "z" * (PART_SIZE * 16)
    ticket = make_ticket(args={"a": long, "b": long, "c": long})
    view = render_edit_modal(ticket, None)
    assert_fits_view(view)
    assert [len(part_blocks(view, k)) for k in "abc"] == [16, 16, 0]
    assert "*c*: 40,000 characters, too long to edit here" in everything(view)
    result = parse_edit_submission(ticket, None, typed(view, {"argpart16:b": "end"}))
    assert result.args == {"a": long, "b": long[: PART_SIZE * 15] + "end", "c": long}


def test_long_structured_values_stay_read_only_saying_why() -> None:
    rows = [{"id": i, "note": "n" * 40} for i in range(200)]
    ticket = make_ticket(args={"rows": rows, "body": "hi"})
    view = render_edit_modal(ticket, None)
    assert_fits_view(view)
    text = everything(view)
    assert "*rows*: " in text and "edited as JSON in one box of 3,000 characters" in text
    assert parse_edit_submission(ticket, None, initial_state_values(view)).args == ticket.args
