"""Acting as users: what the app receives for each element, and what users can and cannot reach."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.sandbox import ElementNotFound, InvalidInput, SlackSandbox
from tests.sandbox.conftest import Receiver
from tests.sandbox.kit import actions, button, modal, section, text_input


def _opts(*values: str) -> list[dict[str, Any]]:
    return [{"text": {"type": "plain_text", "text": v.title()}, "value": v} for v in values]


def _input(block_id: str, element: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "input", "block_id": block_id, "element": element,
            "label": {"type": "plain_text", "text": block_id}, **extra}


FORM = modal(
    text_input("reason", "text"),
    _input("amount", {"type": "number_input", "action_id": "n", "is_decimal_allowed": False}),
    _input("tier", {"type": "static_select", "action_id": "s", "options": _opts("low", "high")}),
    _input("checks", {"type": "checkboxes", "action_id": "c", "options": _opts("a", "b", "c")}),
    _input("day", {"type": "datepicker", "action_id": "d"}),
    _input("at", {"type": "datetimepicker", "action_id": "dt"}),
    _input("who", {"type": "users_select", "action_id": "u"}, optional=True),
    callback_id="form",
)


def _open(sandbox: SlackSandbox, client: WebClient, view: dict[str, Any] = FORM) -> str:
    opened = client.views_open(trigger_id=sandbox.issue_trigger("U0ALICE"), view=view)
    return str(opened["view"]["id"])


def test_submission_state_shapes(sandbox: SlackSandbox, client: WebClient,
                                 receiver: Receiver) -> None:
    _open(sandbox, client)
    result = sandbox.submit("U0ALICE", {"text": "because", "n": 42, "s": "high",
                                        "c": ["a", "c"], "d": "2024-05-01", "dt": 1714550400})
    assert result.ok and result.delivered and sandbox.views("U0ALICE") == []
    payload = receiver.payload()
    assert payload["type"] == "view_submission" and payload["view"]["callback_id"] == "form"
    values = payload["view"]["state"]["values"]
    assert values["reason"]["text"] == {"type": "plain_text_input", "value": "because"}
    assert values["amount"]["n"] == {"type": "number_input", "value": "42"}
    assert values["tier"]["s"]["selected_option"] == _opts("high")[0]
    assert [o["value"] for o in values["checks"]["c"]["selected_options"]] == ["a", "c"]
    assert values["day"]["d"] == {"type": "datepicker", "selected_date": "2024-05-01"}
    assert values["at"]["dt"] == {"type": "datetimepicker", "selected_date_time": 1714550400}
    assert values["who"]["u"] == {"type": "users_select", "selected_user": None}
    assert payload["trigger_id"] and payload["user"]["id"] == "U0ALICE"


def test_initial_values_are_in_the_state(sandbox: SlackSandbox, client: WebClient,
                                         receiver: Receiver) -> None:
    view = modal(text_input("reason", "text", initial_value="prefilled"))
    _open(sandbox, client, view)
    sandbox.submit("U0ALICE")
    values = receiver.payload()["view"]["state"]["values"]
    assert values["reason"]["text"]["value"] == "prefilled"


def test_impossible_entries_are_refused(sandbox: SlackSandbox, client: WebClient) -> None:
    _open(sandbox, client)
    with pytest.raises(InvalidInput):
        sandbox.fill("U0ALICE", {"s": "medium"})
    with pytest.raises(InvalidInput):
        sandbox.fill("U0ALICE", {"n": "forty"})
    with pytest.raises(InvalidInput):
        sandbox.fill("U0ALICE", {"d": "01/05/2024"})
    with pytest.raises(ElementNotFound):
        sandbox.fill("U0ALICE", {"nope": "x"})


def test_client_side_length_checks(sandbox: SlackSandbox, client: WebClient,
                                   receiver: Receiver) -> None:
    _open(sandbox, client, modal(text_input("reason", "text", min_length=5)))
    result = sandbox.submit("U0ALICE", {"text": "abc"})
    assert not result.delivered and result.errors == {"reason": "Must be at least 5 characters."}
    assert receiver.requests == []


def test_input_selections_dispatch_only_when_asked(sandbox: SlackSandbox, client: WebClient,
                                                   receiver: Receiver) -> None:
    select = {"type": "static_select", "action_id": "s", "options": _opts("low", "high")}
    view = modal(_input("quiet", select),
                 _input("loud", {**select, "action_id": "l"}, dispatch_action=True))
    view_id = _open(sandbox, client, view)
    assert sandbox.select("U0ALICE", "s", "low") is None
    assert sandbox.select("U0ALICE", "l", "High") is not None  # an option's text works too
    payload = receiver.payload()
    assert payload["container"] == {"type": "view", "view_id": view_id}
    assert payload["actions"][0]["selected_option"]["value"] == "high"
    state = payload["view"]["state"]["values"]
    assert state["quiet"]["s"]["selected_option"]["value"] == "low"


def test_overflow_and_checkboxes_in_messages(sandbox: SlackSandbox, client: WebClient,
                                             receiver: Receiver) -> None:
    client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[
        section("menu", accessory={"type": "overflow", "action_id": "more",
                                   "options": _opts("edit", "delete")}),
        actions({"type": "checkboxes", "action_id": "ack", "options": _opts("seen")}),
    ])
    sandbox.select("U0BOB", "more", "delete")
    assert receiver.payload()["actions"][0]["selected_option"]["value"] == "delete"
    sandbox.select("U0BOB", "ack", ["seen"])
    [action] = receiver.payload()["actions"]
    assert action["type"] == "checkboxes" and action["selected_options"][0]["value"] == "seen"


def test_ephemeral_click_and_replace(sandbox: SlackSandbox, client: WebClient,
                                     receiver: Receiver) -> None:
    client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="only you",
                              blocks=[actions(button("dismiss", "Dismiss"))])
    with pytest.raises(ElementNotFound):
        sandbox.click("U0BOB", action_id="dismiss")  # not Bob's to see
    sandbox.click("U0ALICE", action_id="dismiss")
    payload = receiver.payload()
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    WebhookClient(payload["response_url"]).send(text="dismissed", replace_original=True)
    [eph] = sandbox.ephemerals("U0ALICE")
    assert eph.text == "dismissed" and eph.history[0]["text"] == "only you"


def test_private_channels_hide_their_buttons() -> None:
    from bot.sandbox import Channel, User, Workspace

    ws = Workspace(users=[User("U0IN", "in"), User("U0OUT", "out")],
                   channels=[Channel("C0PRIV", "priv", ("U0IN", "U0SANDBOT"))])
    with SlackSandbox(ws, request_url="http://127.0.0.1:9/unused") as sb:
        client = WebClient(base_url=sb.api_url, token=sb.bot_token)
        client.chat_postMessage(channel="C0PRIV", text="x", blocks=[actions(button("go"))])
        with pytest.raises(ElementNotFound):
            sb.click("U0OUT", action_id="go")
        assert sb.click("U0IN", action_id="go").error == "connection_failed"


def test_newest_surface_wins_and_locators_narrow(sandbox: SlackSandbox, client: WebClient,
                                                 receiver: Receiver) -> None:
    first = client.chat_postMessage(channel="C0GENERAL", text="1",
                                    blocks=[actions(button("approve"))])["ts"]
    second = client.chat_postMessage(channel="C0RANDOM", text="2",
                                     blocks=[actions(button("approve"))])["ts"]
    sandbox.click("U0ALICE", action_id="approve")
    assert receiver.payload()["container"]["message_ts"] == second
    sandbox.click("U0ALICE", action_id="approve", message_ts=first)
    assert receiver.payload()["container"]["message_ts"] == first
    sandbox.click("U0ALICE", action_id="approve", channel="#general")
    assert receiver.payload()["channel"]["id"] == "C0GENERAL"
    with pytest.raises(ValueError):
        sandbox.click("U0ALICE")


def test_only_the_top_modal_can_be_used(sandbox: SlackSandbox, client: WebClient,
                                        receiver: Receiver) -> None:
    bottom = _open(sandbox, client, modal(actions(button("inside"))))
    client.views_push(trigger_id=sandbox.issue_trigger("U0ALICE"), view=modal())
    with pytest.raises(ElementNotFound):
        sandbox.click("U0ALICE", action_id="inside", view_id=bottom)
    with pytest.raises(ElementNotFound):
        sandbox.submit("U0ALICE", view_id=bottom)
    receiver.answer = (200, b"")
    sandbox.submit("U0ALICE")  # closes the pushed view, uncovering the first
    assert sandbox.click("U0ALICE", action_id="inside").ok


def test_bad_response_actions_are_reported(sandbox: SlackSandbox, client: WebClient,
                                           receiver: Receiver) -> None:
    _open(sandbox, client, modal(text_input("reason", "text")))
    answers = [
        ({"response_action": "errors", "errors": {"nope": "x"}}, "invalid_response_action"),
        ({"response_action": "update", "view": {"type": "modal"}}, "invalid_arguments"),
        ({"response_action": "teleport"}, "invalid_response_action"),
    ]
    for answer, error in answers:
        receiver.answer = (200, json.dumps(answer).encode())
        result = sandbox.submit("U0ALICE", {"text": "x"})
        assert result.error is not None and result.error.startswith(error), result.error
        assert len(sandbox.views("U0ALICE")) == 1
    receiver.answer = (500, b"oops")
    assert sandbox.submit("U0ALICE").error == "http_500"


def test_interactions_are_recorded(sandbox: SlackSandbox, client: WebClient,
                                   receiver: Receiver) -> None:
    client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[actions(button("go"))])
    sandbox.click("U0ALICE", action_id="go")
    sandbox.open_app_home("U0ALICE")
    kinds = [(r.kind, r.user) for r in sandbox.interactions()]
    assert kinds == [("block_actions", "U0ALICE"), ("event_callback", "U0ALICE")]
    assert receiver.payload()["event"]["channel"] == sandbox.dm_channel("U0ALICE")


def test_chat_delete_and_conversation_info(sandbox: SlackSandbox, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0GENERAL", text="x")["ts"]
    client.chat_delete(channel="C0GENERAL", ts=ts)
    assert sandbox.messages("C0GENERAL") == []
    info = client.conversations_info(channel="C0GENERAL")["channel"]
    assert info["name"] == "general" and info["is_member"] is True


def test_multipart_body(sandbox: SlackSandbox) -> None:
    import urllib.request

    boundary = "XyZ"
    parts = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                    for k, v in {"channel": "C0GENERAL", "text": "multi"}.items())
    body = (parts + f"--{boundary}--\r\n").encode()
    request = urllib.request.Request(sandbox.api_url + "chat.postMessage", data=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Authorization": f"Bearer {sandbox.bot_token}"})
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["ok"] is True
    assert sandbox.messages("C0GENERAL")[0].text == "multi"


def test_entered_input_survives_a_view_update(sandbox: SlackSandbox, client: WebClient,
                                              receiver: Receiver) -> None:
    view_id = _open(sandbox, client, modal(text_input("reason", "text"), section("v1")))
    sandbox.fill("U0ALICE", {"text": "half-typed"})
    client.views_update(view_id=view_id, view=modal(text_input("reason", "text"),
                                                    text_input("other", "text"), section("v2")))
    sandbox.submit("U0ALICE", {"other": {"text": "new field"}})
    values = receiver.payload()["view"]["state"]["values"]
    assert values["reason"]["text"]["value"] == "half-typed"
    assert values["other"]["text"]["value"] == "new field"
