"""The HTTP control endpoints under /_sandbox/, the recorded state, and the CLI entry point."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import ManualClock, SlackSandbox
from bot.sandbox.cli import load_workspace, main, run
from tests.sandbox.conftest import Receiver
from tests.sandbox.kit import actions, button, modal, text_input


def control(sb: SlackSandbox, name: str, body: dict[str, Any] | None = None,
            query: str = "") -> tuple[int, dict[str, Any]]:
    url = f"{sb.base_url}/_sandbox/{name}" + (f"?{query}" if query else "")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(json.loads(response.read()))
    except urllib.error.HTTPError as failed:
        return failed.code, dict(json.loads(failed.read()))


def test_state_snapshot(client: WebClient, sandbox: SlackSandbox) -> None:
    parent = client.chat_postMessage(channel="C0GENERAL", text="parent")["ts"]
    client.chat_postMessage(channel="C0GENERAL", text="reply", thread_ts=parent)
    client.chat_postEphemeral(channel="C0GENERAL", user="U0BOB", text="psst")
    status, body = control(sandbox, "state")
    state = body["result"]
    assert status == 200 and state["version"] == sandbox.version
    [card] = state["channels"]["C0GENERAL"]
    assert card["message"]["text"] == "parent" and card["thread"][0]["message"]["text"] == "reply"
    assert state["ephemerals"][0]["ephemeral_user"] == "U0BOB"
    assert {u["id"] for u in state["workspace"]["users"]} >= {"U0ALICE", "U0BOB"}
    assert state["call_count"] == 3


def test_long_poll_wakes_on_change(client: WebClient, sandbox: SlackSandbox) -> None:
    since = sandbox.version
    timer = threading.Timer(0.2, lambda: client.chat_postMessage(channel="C0GENERAL", text="x"))
    timer.start()
    started = time.perf_counter()
    _, body = control(sandbox, "state", query=f"since={since}&wait=5")
    assert body["result"]["version"] > since
    assert time.perf_counter() - started < 4
    timer.join()


def test_long_poll_times_out_without_change(sandbox: SlackSandbox) -> None:
    _, body = control(sandbox, "state", query=f"since={sandbox.version}&wait=0.1")
    assert body["result"]["version"] == sandbox.version


def test_read_endpoints(client: WebClient, sandbox: SlackSandbox) -> None:
    ts = client.chat_postMessage(channel="C0GENERAL", text="hi")["ts"]
    client.chat_postMessage(channel="C0GENERAL", text="re", thread_ts=ts)
    assert [c["method"] for c in control(sandbox, "calls", query="method=chat.postMessage")[1][
        "result"]] == ["chat.postMessage"] * 2
    assert control(sandbox, "messages", query="channel=C0GENERAL")[1]["result"][0]["ts"] == ts
    assert len(control(sandbox, "thread", query=f"channel=C0GENERAL&ts={ts}")[1]["result"]) == 2
    assert control(sandbox, "views", query="user=U0ALICE")[1]["result"] == {"stack": [],
                                                                            "home": None}


def test_act_as_users_over_http(client: WebClient, sandbox: SlackSandbox,
                                receiver: Receiver) -> None:
    client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[actions(button("go"))])
    status, body = control(sandbox, "click", {"user": "U0ALICE", "action_id": "go"})
    assert status == 200 and body["result"]["ok"] and body["result"]["status"] == 200
    assert receiver.payload()["actions"][0]["action_id"] == "go"

    client.views_open(trigger_id=sandbox.issue_trigger("U0ALICE"),
                      view=modal(text_input("why", "text"), notify_on_close=True))
    control(sandbox, "fill", {"user": "U0ALICE", "values": {"why": {"text": "typed"}}})
    receiver.answer = (200, json.dumps({"response_action": "errors",
                                        "errors": {"why": "no"}}).encode())
    _, body = control(sandbox, "submit", {"user": "U0ALICE"})
    assert body["result"]["errors"] == {"why": "no"}
    submitted = receiver.payload()["view"]["state"]["values"]["why"]["text"]
    assert submitted == {"type": "plain_text_input", "value": "typed"}
    receiver.answer = (200, b"")
    _, body = control(sandbox, "close", {"user": "U0ALICE"})
    assert receiver.payload()["type"] == "view_closed" and sandbox.views("U0ALICE") == []


def test_unknown_element_is_404(sandbox: SlackSandbox) -> None:
    status, body = control(sandbox, "click", {"user": "U0ALICE", "action_id": "nothing"})
    assert status == 404 and body["error"] == "not_found"
    assert control(sandbox, "nope", {})[0] == 404
    assert control(sandbox, "click", {"action_id": "x"})[0] == 400


def test_faults_and_config_over_http(client: WebClient, sandbox: SlackSandbox) -> None:
    control(sandbox, "faults", {"method": "auth.test", "error": "account_inactive"})
    with pytest.raises(SlackApiError):
        client.auth_test()
    control(sandbox, "faults", {"method": "auth.test", "error": "account_inactive"})
    control(sandbox, "faults/clear", {})
    client.auth_test()
    _, body = control(sandbox, "config", {"request_url": "http://127.0.0.1:9/slack/events"})
    assert sandbox.deliverer.request_url == body["result"]["request_url"]
    control(sandbox, "rate_limit", {"limit": 1})
    client.chat_postMessage(channel="C0GENERAL", text="1")
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C0GENERAL", text="2")


def test_clock_advance_over_http(sandbox: SlackSandbox, clock: ManualClock) -> None:
    before = clock()
    _, body = control(sandbox, "clock/advance", {"seconds": 4})
    assert body["result"] == clock() == before + 4
    with SlackSandbox() as real:
        assert control(real, "clock/advance", {"seconds": 1})[0] == 400


def test_reset_forgets_everything(client: WebClient, sandbox: SlackSandbox) -> None:
    client.chat_postMessage(channel="C0GENERAL", text="x")
    version = sandbox.version
    control(sandbox, "reset", {})
    assert sandbox.messages("C0GENERAL") == [] and sandbox.calls() == []
    assert sandbox.version > version  # pages polling the version still see the change


def test_index(sandbox: SlackSandbox) -> None:
    with urllib.request.urlopen(sandbox.base_url + "/") as response:
        assert json.loads(response.read())["control"] == "/_sandbox/"


def test_cli_run_serves_a_workspace_from_yaml(tmp_path: Path) -> None:
    config = tmp_path / "workspace.yml"
    config.write_text("team_id: T0YAML\nbot_tokens: [xoxb-yaml]\n"
                      "users:\n  - {id: U0ZED, name: zed, email: zed@x.test}\n"
                      "channels:\n  - {id: C0YAML, name: yaml}\n"
                      "usergroups:\n  S0Z: [U0ZED]\n")
    started: list[SlackSandbox] = []
    stop = threading.Event()
    out = io.StringIO()
    thread = threading.Thread(target=run, kwargs=dict(
        port=0, workspace=load_workspace(config), ready=started.append, stop=stop, out=out))
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not started and time.monotonic() < deadline:
            time.sleep(0.01)
        sb = started[0]
        client = WebClient(base_url=sb.api_url, token="xoxb-yaml")
        assert client.auth_test()["team_id"] == "T0YAML"
        assert client.users_lookupByEmail(email="zed@x.test")["user"]["id"] == "U0ZED"
        assert f"SLACK_API_URL={sb.api_url}" in out.getvalue()
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_cli_help() -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0


def test_calls_after_reads_each_call_once(client: WebClient, sandbox: SlackSandbox) -> None:
    _, start = sandbox.calls_after(0)
    client.chat_postMessage(channel="C0GENERAL", text="one")
    client.auth_test()
    posts, pos = sandbox.calls_after(start, "chat.postMessage")
    assert [c.args.get("text") for c in posts] == ["one"]
    assert sandbox.calls_after(pos) == ([], pos)  # nothing new yet
    client.chat_postMessage(channel="C0GENERAL", text="two")
    posts, pos = sandbox.calls_after(pos, "chat.postMessage")
    assert [c.args.get("text") for c in posts] == ["two"]
    control(sandbox, "reset", {})
    client.chat_postMessage(channel="C0GENERAL", text="three")
    posts, _ = sandbox.calls_after(pos, "chat.postMessage")  # after a reset, from the start
    assert [c.args.get("text") for c in posts] == ["three"]
