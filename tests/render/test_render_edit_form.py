"""The edit modal: inputs typed from the argument model, and its submission parsed back."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.render import (
    CALLBACK_EDIT,
    EDIT_REST_BLOCK,
    EDIT_VALUE_ACTION,
    MASK,
    initial_state_values,
    parse_edit_submission,
    render_card,
    render_edit_modal,
)
from tests.render.render_checks import Args, assert_fits_view, everything, make_ticket

ARGS: dict[str, Any] = {
    "name": "Ana", "note": None, "body": "Hi", "count": 3, "ratio": 0.25, "price": "12.50",
    "active": True, "colour": "red", "mode": "safe", "day": "2025-03-04",
    "at": "2025-03-04T09:30:00+00:00", "tags": [1, 2],
    "meta": {"k": 1, "password": "pw-nested-secret"}, "api_key": "sk_live_123456",
}


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def _submit(view: dict[str, Any], **changes: dict[str, Any]) -> dict[str, Any]:
    state = initial_state_values(view)
    for block_id, value in changes.items():
        state[block_id][EDIT_VALUE_ACTION] = value
    return state


def test_each_annotation_gets_its_input() -> None:
    view = render_edit_modal(make_ticket(args=ARGS), Args)
    assert_fits_view(view)
    assert view["callback_id"] == CALLBACK_EDIT and view["submit"]["text"] == "Approve edits"
    blocks = _inputs(view)
    el = {k: b["element"] for k, b in blocks.items()}
    assert el["arg:name"]["type"] == "plain_text_input"
    assert el["arg:name"]["multiline"] is False and el["arg:name"]["initial_value"] == "Ana"
    assert blocks["arg:note"]["optional"] is True and blocks["arg:name"]["optional"] is False
    assert el["arg:body"]["multiline"] is True
    assert el["arg:count"] == {
        "type": "number_input", "action_id": EDIT_VALUE_ACTION, "is_decimal_allowed": False,
        "initial_value": "3", "min_value": "1", "max_value": "10",
    }
    assert el["arg:ratio"]["is_decimal_allowed"] is True
    assert el["arg:price"]["initial_value"] == "12.50" and el["arg:price"]["min_value"] == "0"
    assert el["arg:active"]["type"] == "checkboxes" and len(el["arg:active"]["options"]) == 1
    assert el["arg:active"]["initial_options"] == el["arg:active"]["options"]
    assert el["arg:colour"]["type"] == "static_select"
    assert [o["text"]["text"] for o in el["arg:colour"]["options"]] == ["red", "blue"]
    assert el["arg:colour"]["initial_option"]["text"]["text"] == "red"
    assert el["arg:mode"]["initial_option"]["text"]["text"] == "safe"
    assert el["arg:day"] == {"type": "datepicker", "action_id": EDIT_VALUE_ACTION,
                             "initial_date": "2025-03-04"}
    assert el["arg:at"]["type"] == "datetimepicker"
    assert el["arg:at"]["initial_date_time"] == int(datetime(2025, 3, 4, 9, 30,
                                                             tzinfo=UTC).timestamp())
    assert el["arg:tags"]["multiline"] is True and "1," in el["arg:tags"]["initial_value"]
    assert el["arg:api_key"].get("initial_value") is None
    assert blocks["arg:api_key"]["optional"] is True
    assert "leave empty to keep the current value" in blocks["arg:api_key"]["hint"]["text"]


def test_secrets_never_reach_the_modal() -> None:
    text = everything(render_edit_modal(make_ticket(args=ARGS), Args))
    assert "sk_live_123456" not in text and "pw-nested-secret" not in text
    assert MASK in text  # the nested password, shown masked inside the JSON


def test_unchanged_submission_round_trips_exactly() -> None:
    for model in (Args, None):
        ticket = make_ticket(args=copy.deepcopy(ARGS))
        view = render_edit_modal(ticket, model)
        result = parse_edit_submission(ticket, model, initial_state_values(view))
        assert result.ok and result.args == ticket.final_args and result.changed == ()


def test_changes_are_applied_and_validated_by_the_model() -> None:
    ticket = make_ticket(args=ARGS)
    view = render_edit_modal(ticket, Args)
    blue = view["blocks"]  # find the option for "blue"
    colour = next(b for b in blue if b["block_id"] == "arg:colour")["element"]["options"][1]
    state = _submit(
        view,
        **{
            "arg:count": {"type": "number_input", "value": "7"},
            "arg:price": {"type": "number_input", "value": "13.5"},
            "arg:active": {"type": "checkboxes", "selected_options": []},
            "arg:colour": {"type": "static_select", "selected_option": colour},
            "arg:note": {"type": "plain_text_input", "value": "call first"},
            "arg:tags": {"type": "plain_text_input", "value": "[3]"},
            "arg:day": {"type": "datepicker", "selected_date": "2025-04-01"},
            "arg:meta": {"type": "plain_text_input",
                         "value": '{"k": 2, "password": "' + MASK + '"}'},
        },
    )
    result = parse_edit_submission(ticket, Args, state)
    assert result.ok, result.errors
    assert result.args is not None
    assert result.args == {
        **ARGS, "count": 7, "price": "13.5", "active": False, "colour": "blue",
        "note": "call first", "tags": [3], "day": "2025-04-01",
        "meta": {"k": 2, "password": "pw-nested-secret"},
    }
    assert set(result.changed) == {"count", "price", "active", "colour", "note", "tags", "day",
                                   "meta"}


def test_a_secret_typed_anew_replaces_the_old_one() -> None:
    ticket = make_ticket(args=ARGS)
    view = render_edit_modal(ticket, Args)
    state = _submit(view, **{"arg:api_key": {"type": "plain_text_input", "value": "sk_new"}})
    result = parse_edit_submission(ticket, Args, state)
    assert result.args is not None and result.args["api_key"] == "sk_new"


def test_bad_numbers_and_json_are_reported_on_their_block() -> None:
    ticket = make_ticket(args=ARGS)
    view = render_edit_modal(ticket, Args)
    cases = [
        ("arg:count", {"type": "number_input", "value": "11"}, "Must be at most 10."),
        ("arg:count", {"type": "number_input", "value": "2.5"}, "Enter a whole number."),
        ("arg:ratio", {"type": "number_input", "value": "abc"}, "Enter a number."),
        ("arg:price", {"type": "number_input", "value": "0"}, "Must be more than 0."),
        ("arg:tags", {"type": "plain_text_input", "value": "[1,"}, "Not valid JSON"),
    ]
    for block_id, value, message in cases:
        result = parse_edit_submission(ticket, Args, _submit(view, **{block_id: value}))
        assert not result.ok and result.args is None
        assert list(result.errors) == [block_id]
        assert result.errors[block_id].startswith(message)


def test_model_validation_errors_map_to_the_field() -> None:
    ticket = make_ticket(args=ARGS)
    view = render_edit_modal(ticket, Args)
    bad = {"arg:tags": {"type": "plain_text_input", "value": '["x"]'}}
    result = parse_edit_submission(ticket, Args, _submit(view, **bad))
    assert list(result.errors) == ["arg:tags"]
    assert "integer" in result.errors["arg:tags"] and "(at 0)" in result.errors["arg:tags"]


def test_without_a_model_inputs_follow_the_current_values() -> None:
    args = {"title": "x", "count": 3, "ratio": 1.5, "flag": True, "items": [1, 2],
            "nothing": None, "token": "abc123xyz", "letter": "a\nb"}
    ticket = make_ticket(args=args)
    view = render_edit_modal(ticket, None)
    assert_fits_view(view)
    el = {k: b["element"] for k, b in _inputs(view).items()}
    assert el["arg:title"]["type"] == "plain_text_input"
    assert el["arg:count"]["type"] == "number_input"
    assert el["arg:count"]["is_decimal_allowed"] is False
    assert el["arg:ratio"]["is_decimal_allowed"] is True
    assert el["arg:flag"]["type"] == "checkboxes"
    assert el["arg:items"]["multiline"] is True
    assert el["arg:letter"]["multiline"] is True
    assert _inputs(view)["arg:nothing"]["optional"] is True
    assert "initial_value" not in el["arg:token"]
    state = _submit(view, **{"arg:count": {"type": "number_input", "value": "4"},
                             "arg:nothing": {"type": "plain_text_input", "value": "now set"}})
    result = parse_edit_submission(ticket, None, state)
    assert result.args == {**args, "count": 4, "nothing": "now set"}


def test_masked_argument_names_are_treated_as_secrets() -> None:
    ticket = make_ticket(args={"account": "acct-998877", "amount": 3})
    view = render_edit_modal(ticket, None, masked=frozenset({"account"}))
    assert "acct-998877" not in everything(view)
    result = parse_edit_submission(ticket, None, initial_state_values(view),
                                   masked=frozenset({"account"}))
    assert result.args == ticket.final_args


def test_many_arguments_fold_into_one_json_field_within_100_blocks() -> None:
    args = {f"arg_{i:03}": i for i in range(150)}
    ticket = make_ticket(args=args)
    view = render_edit_modal(ticket, None)
    assert_fits_view(view)
    assert len(view["blocks"]) <= 100
    rest = _inputs(view)[EDIT_REST_BLOCK]["element"]
    assert '"arg_149": 149' in rest["initial_value"]
    assert parse_edit_submission(ticket, None, initial_state_values(view)).args == args
    changed = rest["initial_value"].replace('"arg_149": 149', '"arg_149": 1')
    state = _submit(view, **{EDIT_REST_BLOCK: {"type": "plain_text_input", "value": changed}})
    result = parse_edit_submission(ticket, None, state)
    assert result.args == {**args, "arg_149": 1}
    bad = _submit(view, **{EDIT_REST_BLOCK: {"type": "plain_text_input", "value": "[]"}})
    assert list(parse_edit_submission(ticket, None, bad).errors) == [EDIT_REST_BLOCK]


def test_values_too_long_for_an_input_are_kept_as_they_are() -> None:
    args = {"body": "x" * 70_000, "subject": "Hi"}  # more than 20 inputs' worth
    ticket = make_ticket(args=args)
    view = render_edit_modal(ticket, None)
    assert_fits_view(view)
    assert "arg:body" not in _inputs(view)
    assert "too long to edit here" in everything(view)
    assert "at most 20 boxes" in everything(view)
    assert parse_edit_submission(ticket, None, initial_state_values(view)).args == args


def test_block_ids_stay_short_and_unique_for_long_argument_names() -> None:
    args = {"k" * 300 + "a": 1, "k" * 300 + "b": 2}
    view = render_edit_modal(make_ticket(args=args), None)
    assert_fits_view(view)
    ids = list(_inputs(view))
    assert len(ids) == 2 and all(len(i) <= 255 and i.startswith("arg:") for i in ids)


class Extras(BaseModel):
    retries: int | None = Field(default=None, ge=0, lt=5)
    level: Literal[1, 2, 3] = 1
    pin_code: str = Field(json_schema_extra={"secret": True})
    when: datetime | None = None


def test_optional_numbers_literal_choices_and_marked_secrets() -> None:
    ticket = make_ticket(args={"retries": 2, "level": 2, "pin_code": "99887766",
                               "when": "2025-03-04T09:30:00Z"})
    view = render_edit_modal(ticket, Extras)
    assert_fits_view(view)
    blocks = _inputs(view)
    assert blocks["arg:retries"]["optional"] is True
    assert blocks["arg:retries"]["element"]["max_value"] == "4"  # lt=5 on a whole number
    assert [o["text"]["text"] for o in blocks["arg:level"]["element"]["options"]] == [
        "1", "2", "3"]
    assert "99887766" not in everything(view)
    later = int(datetime(2025, 3, 5, 8, 0, tzinfo=UTC).timestamp())
    state = _submit(view, **{
        "arg:retries": {"type": "number_input", "value": None},
        "arg:level": {"type": "static_select",
                      "selected_option": blocks["arg:level"]["element"]["options"][2]},
        "arg:when": {"type": "datetimepicker", "selected_date_time": later},
    })
    result = parse_edit_submission(ticket, Extras, state)
    assert result.args == {"retries": None, "level": 3, "pin_code": "99887766",
                           "when": "2025-03-05T08:00:00Z"}


def test_secrets_marked_in_the_argument_schema_are_masked_on_cards() -> None:
    schema = {"properties": {"pass_phrase_b": {"type": "string", "writeOnly": True},
                             "memo": {"type": "string"}}}
    ticket = make_ticket(args={"pass_phrase_b": "open-sesame-42", "memo": "hi"},
                         args_schema=schema)
    assert "open-sesame-42" not in everything(render_card(ticket))
    assert "open-sesame-42" not in everything(render_edit_modal(ticket, None))
