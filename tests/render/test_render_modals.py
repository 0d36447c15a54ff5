"""Reject, request-info, guidance and show-all modals; private metadata."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.render import (
    CALLBACK_GUIDANCE,
    CALLBACK_REJECT,
    CALLBACK_REQUEST_INFO,
    CALLBACK_SHOW_ALL,
    GUIDANCE_ACTION,
    GUIDANCE_BLOCK,
    MASK,
    QUESTION_ACTION,
    QUESTION_BLOCK,
    REASON_ACTION,
    REASON_BLOCK,
    ModalOrigin,
    parse_guidance_submission,
    parse_private_metadata,
    parse_question_submission,
    parse_reason_submission,
    render_guidance_modal,
    render_reject_modal,
    render_request_info_modal,
    render_show_all_modal,
)
from tests.render.render_checks import assert_fits_view, everything, make_ticket, text_of


@pytest.mark.parametrize(
    ("render", "callback", "block_id", "action_id", "parse"),
    [
        (render_reject_modal, CALLBACK_REJECT, REASON_BLOCK, REASON_ACTION,
         parse_reason_submission),
        (render_request_info_modal, CALLBACK_REQUEST_INFO, QUESTION_BLOCK, QUESTION_ACTION,
         parse_question_submission),
        (render_guidance_modal, CALLBACK_GUIDANCE, GUIDANCE_BLOCK, GUIDANCE_ACTION,
         parse_guidance_submission),
    ],
)
def test_text_modals(
    render: Callable[..., dict[str, Any]], callback: str, block_id: str, action_id: str,
    parse: Callable[[dict[str, Any]], str],
) -> None:
    ticket = make_ticket()
    view = render(ticket)
    assert_fits_view(view)
    assert view["callback_id"] == callback and "submit" in view
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert len(inputs) == 1 and inputs[0]["block_id"] == block_id
    assert inputs[0]["optional"] is False
    element = inputs[0]["element"]
    assert element["type"] == "plain_text_input" and element["multiline"] is True
    assert element["action_id"] == action_id
    assert parse_private_metadata(view["private_metadata"]) == ModalOrigin(
        ticket.id, "C0REVIEWS", "1741080600.000100", ticket.version)
    state = {block_id: {action_id: {"type": "plain_text_input", "value": "  Too much.  "}}}
    assert parse(state) == "Too much."
    assert parse({}) == ""


def test_private_metadata_is_compact_json_and_can_name_another_message() -> None:
    view = render_reject_modal(make_ticket(), origin=("D0ONCALL", "1.2"))
    version = make_ticket().version
    assert view["private_metadata"] == json.dumps(
        {"t": make_ticket().id, "v": version, "c": "D0ONCALL", "ts": "1.2"},
        separators=(",", ":"))
    assert parse_private_metadata(render_reject_modal(make_ticket(card=None))[
        "private_metadata"]) == ModalOrigin(make_ticket().id, version=version)
    with pytest.raises(ValueError):
        parse_private_metadata("[]")


def test_show_all_splits_the_full_json_and_masks_secrets() -> None:
    args = {"body": "line\n" * 3000, "password": "hunter2hunter2", "to": "<!channel>"}
    ticket = make_ticket(args=args, summary="s" * 20_000)
    view = render_show_all_modal(ticket)
    assert_fits_view(view)
    assert view["callback_id"] == CALLBACK_SHOW_ALL and "submit" not in view
    text = everything(view)
    assert "hunter2hunter2" not in text and MASK in text
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    code = [text_of(b) for b in view["blocks"] if text_of(b).startswith("```")]
    assert len(code) > 3
    joined = "".join(c[4:-4] for c in code)
    assert joined.count("line") == 3000


def test_show_all_of_something_enormous_stops_at_100_blocks_with_a_note() -> None:
    ticket = make_ticket(args={f"k{i}": "v" * 5000 for i in range(200)})
    view = render_show_all_modal(ticket)
    assert_fits_view(view)
    assert len(view["blocks"]) <= 100
    assert "Too long to show in full" in everything(view)


def test_show_all_after_an_edit_shows_both_versions() -> None:
    ticket = make_ticket(args={"amount": 120}, final_args={"amount": 100})
    titles = [text_of(b) for b in render_show_all_modal(ticket)["blocks"]]
    assert "*Proposed arguments*" in titles
    assert "*Arguments that will run (edited)*" in titles
