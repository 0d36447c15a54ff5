"""A real Bolt app, served over real HTTP, driven by users acting through the sandbox."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import Forgery, ManualClock, SlackSandbox
from tests.sandbox.kit import actions, button, modal, section, text_input

MakeApp = Callable[..., App]


def _review_modal(metadata: str) -> dict[str, Any]:
    return modal(section("Why?"), text_input("reason", "text", label="Reason"),
                 callback_id="review", private_metadata=metadata)


def _recording(into: list[dict[str, Any]]) -> Callable[[Ack, dict[str, Any]], None]:
    """A listener that acks and keeps the request body."""

    def listener(ack: Ack, body: dict[str, Any]) -> None:
        into.append(body)
        ack()

    return listener


def _card(client: WebClient, *elements: dict[str, Any]) -> str:
    blocks = [section("Refund $120 to ACME?"), actions(*elements, block_id="decide")]
    return str(client.chat_postMessage(channel="C0GENERAL", text="Refund?", blocks=blocks)["ts"])


def test_click_opens_a_modal_and_the_submission_arrives(
        bolt: MakeApp, sandbox: SlackSandbox, client: WebClient) -> None:
    app = bolt(process_before_response=True)
    clicks: list[dict[str, Any]] = []
    submissions: list[tuple[str, str, str]] = []

    @app.action("reject")
    def on_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        clicks.append(body)
        client.views_open(trigger_id=body["trigger_id"],
                          view=_review_modal(body["container"]["message_ts"]))

    @app.view("review")
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        reason = view["state"]["values"]["reason"]["text"]["value"]
        if len(reason) < 10:
            ack(response_action="errors", errors={"reason": "Say a bit more."})
            return
        ack()
        submissions.append((body["user"]["id"], reason, view["private_metadata"]))

    ts = _card(client, button("approve", "Approve", value="t-1", style="primary"),
               button("reject", "Reject", value="t-1", style="danger"))
    result = sandbox.click("U0ALICE", text="Reject")
    assert result.ok and result.status == 200 and result.elapsed < 3

    [body] = clicks
    assert body["type"] == "block_actions" and body["user"]["id"] == "U0ALICE"
    assert body["container"] == {"type": "message", "message_ts": ts,
                                 "channel_id": "C0GENERAL", "is_ephemeral": False}
    assert body["message"]["ts"] == ts and body["channel"]["id"] == "C0GENERAL"
    [action] = body["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["style"]) == \
        ("reject", "decide", "t-1", "danger")
    assert body["team"]["id"] == sandbox.workspace.team_id and body["api_app_id"]
    assert body["response_url"].startswith(sandbox.base_url) and body["trigger_id"]

    [opened] = sandbox.views("U0ALICE")
    assert opened.data["callback_id"] == "review"

    refused = sandbox.submit("U0ALICE", {"text": "meh"})
    assert refused.ok and refused.response_action == "errors"
    assert refused.errors == {"reason": "Say a bit more."}
    assert sandbox.views("U0ALICE") == [opened] and opened.errors == refused.errors

    accepted = sandbox.submit("U0ALICE", {"text": "The customer was already refunded."})
    assert accepted.ok and accepted.response_action is None
    assert sandbox.views("U0ALICE") == []
    assert submissions == [("U0ALICE", "The customer was already refunded.", ts)]


def test_required_input_is_enforced_before_the_app_hears_of_it(
        bolt: MakeApp, sandbox: SlackSandbox) -> None:
    app = bolt(process_before_response=True)
    heard: list[dict[str, Any]] = []
    app.view("review")(_recording(heard))
    WebClient(base_url=sandbox.api_url, token=sandbox.bot_token).views_open(
        trigger_id=sandbox.issue_trigger("U0BOB"), view=_review_modal("m"))
    result = sandbox.submit("U0BOB")
    assert not result.delivered and result.errors == {"reason": "This field is required."}
    assert heard == [] and len(sandbox.views("U0BOB")) == 1


def test_trigger_id_rules_seen_by_the_app(bolt: MakeApp, sandbox: SlackSandbox,
                                          client: WebClient, clock: ManualClock) -> None:
    app = bolt(process_before_response=True)
    outcomes: list[str] = []

    def open_modal(client: WebClient, trigger_id: str) -> None:
        try:
            client.views_open(trigger_id=trigger_id, view=modal())
            outcomes.append("opened")
        except SlackApiError as err:
            outcomes.append(str(err.response["error"]))

    @app.action("twice")
    def twice(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        open_modal(client, body["trigger_id"])
        open_modal(client, body["trigger_id"])

    @app.action("slowly")
    def slowly(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        clock.advance(3.5)  # the app spent 3.5 s on other work first
        open_modal(client, body["trigger_id"])

    _card(client, button("twice"), button("slowly"))
    sandbox.click("U0ALICE", action_id="twice")
    sandbox.click("U0ALICE", action_id="slowly")
    assert outcomes == ["opened", "exchanged_trigger_id", "expired_trigger_id"]


def test_response_url_rules_seen_by_the_app(bolt: MakeApp, sandbox: SlackSandbox,
                                            client: WebClient, clock: ManualClock) -> None:
    app = bolt(process_before_response=True)
    statuses: list[int] = []
    kept: list[Respond] = []

    @app.action("approve")
    def approve(ack: Ack, respond: Respond) -> None:
        ack()
        statuses.extend(respond(text=f"Approved ({i})", replace_original=True).status_code
                        for i in range(6))

    @app.action("later")
    def later(ack: Ack, respond: Respond) -> None:
        ack()
        kept.append(respond)

    ts = _card(client, button("approve", "Approve"), button("later", "Later"))
    sandbox.click("U0ALICE", action_id="later")
    sandbox.click("U0ALICE", action_id="approve")
    assert statuses == [200] * 5 + [404]
    msg = sandbox.message("C0GENERAL", ts)
    assert msg is not None and msg.text == "Approved (4)" and len(msg.history) == 5

    clock.advance(31 * 60)
    assert kept[0](text="too late").status_code == 404


def test_modal_stack_response_actions(bolt: MakeApp, sandbox: SlackSandbox) -> None:
    app = bolt(process_before_response=True)
    pushed, updated = modal(callback_id="step2"), modal(section("done?"), callback_id="step3")
    app.view("step1")(lambda ack: ack(response_action="push", view=pushed))
    app.view("step2")(lambda ack: ack(response_action="update", view=updated))
    app.view("step3")(lambda ack: ack(response_action="clear"))
    WebClient(base_url=sandbox.api_url, token=sandbox.bot_token).views_open(
        trigger_id=sandbox.issue_trigger("U0ALICE"), view=modal(callback_id="step1"))

    assert sandbox.submit("U0ALICE").response_action == "push"
    assert [v.data["callback_id"] for v in sandbox.views("U0ALICE")] == ["step1", "step2"]
    assert sandbox.submit("U0ALICE").response_action == "update"
    assert [v.data["callback_id"] for v in sandbox.views("U0ALICE")] == ["step1", "step3"]
    assert sandbox.submit("U0ALICE").response_action == "clear"
    assert sandbox.views("U0ALICE") == []


def test_view_closed_only_when_asked(bolt: MakeApp, sandbox: SlackSandbox) -> None:
    app = bolt(process_before_response=True)
    closed: list[dict[str, Any]] = []
    app.view_closed("closable")(_recording(closed))
    web = WebClient(base_url=sandbox.api_url, token=sandbox.bot_token)
    web.views_open(trigger_id=sandbox.issue_trigger("U0ALICE"),
                   view=modal(callback_id="closable", notify_on_close=True))
    result = sandbox.close_view("U0ALICE")
    assert result is not None and result.ok
    assert closed[0]["type"] == "view_closed" and closed[0]["is_cleared"] is False
    web.views_open(trigger_id=sandbox.issue_trigger("U0ALICE"), view=modal(callback_id="quiet"))
    assert sandbox.close_view("U0ALICE") is None and sandbox.views("U0ALICE") == []


def test_app_home_and_clicks_in_a_view(bolt: MakeApp, sandbox: SlackSandbox) -> None:
    app = bolt()  # Bolt's default: listeners run after the ack, so wait for their effects
    home_clicks: list[dict[str, Any]] = []

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(user_id=event["user"], view={
            "type": "home", "blocks": [section("Pending: 2"), actions(button("refresh"))]})

    @app.action("refresh")
    def refresh(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        home_clicks.append(body)

    assert sandbox.open_app_home("U0BOB").ok
    view = sandbox.wait_until(lambda: sandbox.home("U0BOB"))
    assert sandbox.click("U0BOB", action_id="refresh").ok
    sandbox.wait_until(lambda: home_clicks)
    assert home_clicks[0]["container"] == {"type": "view", "view_id": view.id}
    assert home_clicks[0]["view"]["id"] == view.id and "response_url" not in home_clicks[0]


def test_selection_in_a_message(bolt: MakeApp, sandbox: SlackSandbox,
                                client: WebClient) -> None:
    app = bolt(process_before_response=True)
    picked: list[dict[str, Any]] = []
    app.action("tier")(_recording(picked))
    options = [{"text": {"type": "plain_text", "text": t}, "value": t.lower()}
               for t in ("Low", "High")]
    _card(client, {"type": "static_select", "action_id": "tier", "options": options})
    assert sandbox.select("U0CAROL", "tier", "high") is not None
    action = picked[0]["actions"][0]
    assert action["selected_option"]["value"] == "high"
    assert picked[0]["state"]["values"]["decide"]["tier"]["selected_option"]["value"] == "high"


def test_slash_command_and_message_event(bolt: MakeApp, sandbox: SlackSandbox) -> None:
    app = bolt(process_before_response=True)

    @app.command("/pending")
    def pending(ack: Ack, respond: Respond, command: dict[str, Any]) -> None:
        ack()
        respond(f"{command['user_name']}: nothing pending")

    @app.message("hello")
    def hello(message: dict[str, Any], say: Callable[..., Any]) -> None:
        say(f"hi <@{message['user']}>")

    assert sandbox.slash_command("U0ALICE", "/pending", channel="C0GENERAL").ok
    assert [e.text for e in sandbox.ephemerals("U0ALICE")] == ["alice: nothing pending"]
    _, delivered = sandbox.post_as_user("U0BOB", "C0GENERAL", "hello there")
    assert delivered.ok
    assert [m.text for m in sandbox.messages("C0GENERAL")] == ["hello there", "hi <@U0BOB>"]


def test_url_verification(bolt: MakeApp, sandbox: SlackSandbox) -> None:
    bolt()
    result = sandbox.url_verification("abc123")
    assert result.ok and result.json() == {"challenge": "abc123"}


def test_forged_and_stale_requests_are_refused_by_bolt(
        bolt: MakeApp, sandbox: SlackSandbox, client: WebClient) -> None:
    app = bolt(process_before_response=True)
    handled: list[dict[str, Any]] = []
    app.action("approve")(_recording(handled))
    _card(client, button("approve"))
    for forgery in (Forgery(secret="guess"), Forgery(age=301), Forgery(tamper=True)):
        result = sandbox.click("U0ALICE", action_id="approve", forgery=forgery)
        assert (result.status, result.error) == (401, "http_401")
    assert handled == []
    assert sandbox.click("U0ALICE", action_id="approve").ok and len(handled) == 1


def test_slow_ack_is_a_failure(bolt: MakeApp, sandbox: SlackSandbox,
                               client: WebClient) -> None:
    app = bolt()
    sandbox.ack_timeout = 0.2  # Slack's is 3 s; the rule is the same, the test is faster

    @app.action("approve")
    def slow(ack: Ack) -> None:
        time.sleep(0.4)
        ack()

    _card(client, button("approve"))
    result = sandbox.click("U0ALICE", action_id="approve")
    assert not result.ok and result.error == "ack_timeout"
    assert sandbox.interactions("block_actions")[-1].error == "ack_timeout"
