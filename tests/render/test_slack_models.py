"""The sandbox's Block Kit validator agrees with slack_sdk's own models on every surface the
bot renders, over generated tickets; and both refuse what Slack refuses (a date-time picker
beyond 10 digits), which the bot therefore never renders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.render import (
    render_card,
    render_edit_modal,
    render_escalation_dm,
    render_escalation_note,
    render_execution_result,
    render_expired_notice,
    render_guidance_modal,
    render_home,
    render_info_answer,
    render_info_request,
    render_notice_modal,
    render_refusal,
    render_reject_modal,
    render_reminder,
    render_request_info_modal,
    render_show_all_modal,
)
from bot.sandbox.blockkit import validate_message_blocks, validate_view
from store.models import Ticket
from tests.render.render_checks import APPROVER, NOW, Args, make_ticket
from tests.render.test_render_limits import FAST, tickets


def sdk_errors(blocks: list[dict[str, Any]] | None = None,
               view: dict[str, Any] | None = None) -> list[str]:
    """What slack_sdk.models says about blocks or a view ([] when it accepts them)."""
    try:
        if view is not None:
            _deep(View(**view))
        for block in Block.parse_all(blocks or []):
            _deep(block)
    except SlackObjectFormationError as exc:
        return [str(exc)]
    return []


def _deep(obj: Any) -> None:
    """slack_sdk validates one object at a time: walk into its blocks, elements, texts."""
    if isinstance(obj, JsonObject):
        obj.validate_json()
        for name in obj.attributes:
            _deep(getattr(obj, name, None))
    elif isinstance(obj, list | tuple):
        for item in obj:
            _deep(item)


def agree_on_message(message: dict[str, Any]) -> None:
    ours = [str(e) for e in validate_message_blocks(message["blocks"])]
    theirs = sdk_errors(blocks=message["blocks"])
    assert ours == [] and theirs == [], (ours, theirs)


def agree_on_view(view: dict[str, Any]) -> None:
    ours = [str(e) for e in validate_view(view)]
    theirs = sdk_errors(view=view)
    assert ours == [] and theirs == [], (ours, theirs)


@FAST
@given(tickets())
def test_every_message_surface_passes_both_validators(ticket: Ticket) -> None:
    for message in (
        render_card(ticket, now=NOW),
        render_reminder(ticket, timedelta(seconds=4321)),
        render_escalation_note(ticket, 2, [APPROVER]),
        render_escalation_dm(ticket, 1, waited=timedelta(hours=1)),
        render_execution_result(ticket),
        render_info_request(ticket, APPROVER, "which order?"),
        render_info_answer(ticket, "order 42"),
        render_expired_notice(ticket),
        render_refusal("no <@U0X>"),
    ):
        agree_on_message(message)


@FAST
@given(tickets())
def test_every_modal_and_the_home_tab_pass_both_validators(ticket: Ticket) -> None:
    for view in (
        render_reject_modal(ticket),
        render_request_info_modal(ticket),
        render_guidance_modal(ticket),
        render_show_all_modal(ticket),
        render_edit_modal(ticket, None),
        render_notice_modal("You can't: <@U0X> must."),
        render_home(APPROVER, [(ticket, "https://acme.slack.com/archives/C1/p1")], NOW),
    ):
        agree_on_view(view)


class When(BaseModel):
    at: datetime


@pytest.mark.parametrize("moment", ["9999-12-31T00:00:00+00:00", "2286-11-20T17:46:40+00:00",
                                    "1969-07-20T20:17:00+00:00", "2026-11-26T12:00:00+00:00"])
def test_date_times_a_picker_cannot_hold_are_edited_as_text(moment: str) -> None:
    ticket = make_ticket(args={"at": moment})
    for model in (When, None):
        agree_on_view(render_edit_modal(ticket, model))


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_the_validators_agree_on_date_time_pickers(epoch: int) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "t"},
            "submit": {"type": "plain_text", "text": "ok"},
            "blocks": [{"type": "input", "block_id": "b", "label": {
                "type": "plain_text", "text": "When"}, "element": {
                "type": "datetimepicker", "action_id": "a", "initial_date_time": epoch}}]}
    assert bool(validate_view(view)) == bool(sdk_errors(view=view))
    assert bool(validate_view(view)) == (not 0 <= epoch <= 9_999_999_999)


def test_typed_ticket_with_a_far_future_date_round_trips() -> None:
    from bot.render import initial_state_values, parse_edit_submission

    far = datetime(9999, 12, 31, tzinfo=UTC)
    args = {"at": far.isoformat()}
    ticket = make_ticket(args=args)
    view = render_edit_modal(ticket, When)
    result = parse_edit_submission(ticket, When, initial_state_values(view))
    assert result.ok and When.model_validate(result.args).at == far
    assert Args  # the shared fixture model stays importable for the other render tests
