"""Block Kit limits: each one broken by one character or item is refused, and met is accepted.

Messages are refused with ``invalid_blocks``; views with ``invalid_arguments``, which is what
Slack's views.* methods answer for a malformed view. Both carry Slack-style pointer messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import SlackSandbox, validate_message_blocks, validate_view
from tests.sandbox.kit import actions, button, modal, section, text_input

Blocks = list[dict[str, Any]]


def _confirm(title: str = "Sure?", text: str = "Really?") -> dict[str, Any]:
    return {"title": {"type": "plain_text", "text": title},
            "text": {"type": "plain_text", "text": text},
            "confirm": {"type": "plain_text", "text": "Yes"},
            "deny": {"type": "plain_text", "text": "No"}}


def _fields(count: int, size: int = 5) -> dict[str, Any]:
    return {"type": "section",
            "fields": [{"type": "mrkdwn", "text": "f" * size} for _ in range(count)]}


def _context(count: int) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * count}


MESSAGE_LIMITS: dict[str, tuple[int, Callable[[int], Blocks], str]] = {
    "50 blocks per message": (50, lambda n: [section()] * n, "/blocks"),
    "section text 3000": (3000, lambda n: [section("s" * n)], "/blocks/0/text/text"),
    "section fields at most 10": (10, lambda n: [_fields(n)], "/blocks/0/fields"),
    "section field 2000": (2000, lambda n: [_fields(1, n)], "/blocks/0/fields/0/text"),
    "button text 75": (75, lambda n: [actions(button("a", "b" * n))],
                       "/blocks/0/elements/0/text/text"),
    "button value 2000": (2000, lambda n: [actions(button("a", value="v" * n))],
                          "/blocks/0/elements/0/value"),
    "action_id 255": (255, lambda n: [actions(button("a" * n))],
                      "/blocks/0/elements/0/action_id"),
    "block_id 255": (255, lambda n: [section(block_id="b" * n)], "/blocks/0/block_id"),
    "header 150": (150, lambda n: [{"type": "header",
                                    "text": {"type": "plain_text", "text": "h" * n}}],
                   "/blocks/0/text/text"),
    "context elements 10": (10, lambda n: [_context(n)], "/blocks/0/elements"),
    "actions elements 25": (25, lambda n: [actions(*[button(f"a{i}") for i in range(n)])],
                            "/blocks/0/elements"),
    "confirm title 100": (100, lambda n: [actions(button("a", confirm=_confirm(title="t" * n)))],
                          "/blocks/0/elements/0/confirm/title/text"),
    "confirm text 300": (300, lambda n: [actions(button("a", confirm=_confirm(text="t" * n)))],
                         "/blocks/0/elements/0/confirm/text/text"),
    "plain_text_input initial_value 3000": (
        3000, lambda n: [text_input("b", "a", initial_value="i" * n)],
        "/blocks/0/element/initial_value"),
    "plain_text_input max_length 3000": (
        3000, lambda n: [text_input("b", "a", max_length=n)], "/blocks/0/element/max_length"),
}

VIEW_LIMITS: dict[str, tuple[int, Callable[[int], dict[str, Any]], str]] = {
    "100 blocks per modal": (100, lambda n: modal(*[section()] * n), "/view/blocks"),
    "modal title 24": (24, lambda n: modal(title={"type": "plain_text", "text": "t" * n}),
                       "/view/title/text"),
    "modal submit 24": (24, lambda n: modal(submit={"type": "plain_text", "text": "s" * n}),
                        "/view/submit/text"),
    "modal close 24": (24, lambda n: modal(close={"type": "plain_text", "text": "c" * n}),
                       "/view/close/text"),
    "private_metadata 3000": (3000, lambda n: modal(private_metadata="p" * n),
                              "/view/private_metadata"),
}


def _api_error(call: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        call(**kwargs)
    return dict(caught.value.response.data)


@pytest.mark.parametrize("name", MESSAGE_LIMITS)
def test_message_limit(name: str, client: WebClient) -> None:
    limit, build, pointer = MESSAGE_LIMITS[name]
    client.chat_postMessage(channel="C0GENERAL", text="at the limit", blocks=build(limit))
    data = _api_error(client.chat_postMessage, channel="C0GENERAL", text="over",
                      blocks=build(limit + 1))
    assert data["error"] == "invalid_blocks"
    messages = data["response_metadata"]["messages"]
    assert any(m.endswith(f"[json-pointer:{pointer}]") for m in messages), messages


@pytest.mark.parametrize("name", VIEW_LIMITS)
def test_view_limit(name: str, client: WebClient, sandbox: SlackSandbox) -> None:
    limit, build, pointer = VIEW_LIMITS[name]
    client.views_open(trigger_id=sandbox.issue_trigger("U0ALICE"), view=build(limit))
    data = _api_error(client.views_open, trigger_id=sandbox.issue_trigger("U0ALICE"),
                      view=build(limit + 1))
    assert data["error"] == "invalid_arguments"
    messages = data["response_metadata"]["messages"]
    assert any(m.endswith(f"[json-pointer:{pointer}]") for m in messages), messages


def test_home_tab_allows_100_blocks(client: WebClient) -> None:
    home = {"type": "home", "blocks": [section()] * 100}
    client.views_publish(user_id="U0ALICE", view=home)
    data = _api_error(client.views_publish, user_id="U0ALICE",
                      view={**home, "blocks": [section()] * 101})
    assert data["error"] == "invalid_arguments"


def test_modal_with_input_needs_submit(client: WebClient, sandbox: SlackSandbox) -> None:
    view = modal(text_input("b", "a"))
    del view["submit"]
    data = _api_error(client.views_open, trigger_id=sandbox.issue_trigger("U0ALICE"), view=view)
    assert data["error"] == "invalid_arguments"
    assert "submit" in data["response_metadata"]["messages"][0]


def test_error_text_reads_like_slack() -> None:
    [error] = validate_message_blocks([section("x" * 3001)])
    assert str(error) == \
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"


@pytest.mark.parametrize("blocks, pointer", [
    ([section(block_id="x"), section(block_id="x")], "/blocks/1/block_id"),
    ([actions(button("a"), button("a"))], "/blocks/0/elements/1/action_id"),
    ([{"type": "carousel"}], "/blocks/0/type"),
    ([{"text": "no type"}], "/blocks/0"),
    ([{"type": "section"}], "/blocks/0"),
    ([{"type": "actions", "elements": []}], "/blocks/0/elements"),
    ([{"type": "section", "text": {"type": "markdown", "text": "x"}}], "/blocks/0/text/type"),
    ([{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "/blocks/0/text/type"),
    ([actions(button("a", style="loud"))], "/blocks/0/elements/0/style"),
    ([actions({"type": "plain_text_input", "action_id": "t"})], "/blocks/0/elements/0/type"),
    ([{"type": "image", "image_url": "https://x.test/a.png"}], "/blocks/0"),
    ("not a list", "/blocks"),
])
def test_malformed_blocks(blocks: Any, pointer: str) -> None:
    errors = validate_message_blocks(blocks)
    assert pointer in [e.pointer for e in errors], [str(e) for e in errors]


def test_same_action_id_in_different_blocks_is_fine() -> None:
    # Slack scopes action_id uniqueness to a block: one "approve" per row is a common pattern.
    assert validate_message_blocks([actions(button("approve")), actions(button("approve"))]) == []


def _opts(*values: str) -> list[dict[str, Any]]:
    return [{"text": {"type": "plain_text", "text": v}, "value": v} for v in values]


def _el(kind: str, **fields: Any) -> list[dict[str, Any]]:
    return [actions({"type": kind, "action_id": "e", **fields})]


@pytest.mark.parametrize("blocks, pointer", [
    (_el("static_select"), "/blocks/0/elements/0"),
    (_el("static_select", options=_opts("a"), initial_option=_opts("b")[0]),
     "/blocks/0/elements/0/initial_option"),
    (_el("static_select", options=_opts(*map(str, range(101)))), "/blocks/0/elements/0/options"),
    (_el("checkboxes", options=_opts(*map(str, range(11)))), "/blocks/0/elements/0/options"),
    (_el("checkboxes", options=_opts("a"), initial_options=_opts("z")),
     "/blocks/0/elements/0/initial_options/0"),
    (_el("overflow", options=_opts(*"abcdef")), "/blocks/0/elements/0/options"),
    (_el("static_select", options=[{"text": {"type": "plain_text", "text": "x"}}]),
     "/blocks/0/elements/0/options/0"),
    (_el("datepicker", initial_date="2024-13-01"), "/blocks/0/elements/0/initial_date"),
    (_el("timepicker", initial_time="25:00"), "/blocks/0/elements/0/initial_time"),
    (_el("datetimepicker", initial_date_time="soon"), "/blocks/0/elements/0/initial_date_time"),
    (_el("multi_static_select", options=_opts("a"), max_selected_items=0),
     "/blocks/0/elements/0/max_selected_items"),
    ([text_input("b", "a", min_length=10, max_length=5)], "/blocks/0/element/min_length"),
    ([{"type": "input", "label": {"type": "plain_text", "text": "n"},
       "element": {"type": "number_input", "action_id": "n"}}], "/blocks/0/element"),
    ([{"type": "input", "label": {"type": "plain_text", "text": "n"},
       "element": {"type": "number_input", "action_id": "n", "is_decimal_allowed": False,
                   "min_value": "5", "max_value": "1"}}], "/blocks/0/element/min_value"),
    ([{"type": "input", "label": {"type": "plain_text", "text": "n"},
       "element": {"type": "number_input", "action_id": "n", "is_decimal_allowed": False,
                   "initial_value": "1.5"}}], "/blocks/0/element/initial_value"),
    ([{"type": "input", "element": {"type": "plain_text_input"}}], "/blocks/0"),
    ([{"type": "input", "label": {"type": "plain_text", "text": "x"},
       "element": {"type": "button", "text": {"type": "plain_text", "text": "b"}}}],
     "/blocks/0/element/type"),
])
def test_malformed_elements(blocks: Any, pointer: str) -> None:
    errors = validate_message_blocks(blocks)
    assert pointer in [e.pointer for e in errors], [str(e) for e in errors]


def test_a_full_modal_is_valid() -> None:
    view = modal(
        {"type": "header", "text": {"type": "plain_text", "text": "Refund"}},
        text_input("reason", "text", multiline=True, max_length=3000, min_length=1),
        {"type": "input", "block_id": "amount", "label": {"type": "plain_text", "text": "Amt"},
         "element": {"type": "number_input", "action_id": "n", "is_decimal_allowed": True,
                     "initial_value": "1.5", "min_value": "0", "max_value": "10"}},
        {"type": "input", "block_id": "when", "label": {"type": "plain_text", "text": "When"},
         "element": {"type": "datetimepicker", "action_id": "d",
                     "initial_date_time": 1_700_000_000}},
        {"type": "input", "block_id": "pick", "optional": True,
         "label": {"type": "plain_text", "text": "Pick"},
         "element": {"type": "static_select", "action_id": "s", "options": _opts("a", "b"),
                     "initial_option": _opts("a")[0]}},
        {"type": "input", "block_id": "boxes", "label": {"type": "plain_text", "text": "B"},
         "element": {"type": "checkboxes", "action_id": "c", "options": _opts("x", "y")}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "more"},
         "accessory": {"type": "overflow", "action_id": "o", "options": _opts("1", "2")}},
        actions(button("go", confirm=_confirm()), {"type": "datepicker", "action_id": "dp",
                                                   "initial_date": "2024-02-29"}),
        {"type": "context", "elements": [{"type": "image", "image_url": "https://x.test/i.png",
                                          "alt_text": "i"}, {"type": "plain_text", "text": "t"}]},
        {"type": "divider"},
        close={"type": "plain_text", "text": "Cancel"}, private_metadata="ticket-1",
        callback_id="refund", notify_on_close=True,
    )
    assert validate_view(view) == []


def test_view_type_must_be_modal_or_home() -> None:
    assert [e.pointer for e in validate_view({"type": "workflow", "blocks": []})] == \
        ["/view/type"]
