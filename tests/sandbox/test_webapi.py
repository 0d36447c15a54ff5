"""The Web API subset, driven by the real slack_sdk WebClient (and raw HTTP for body formats)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import Channel, SlackSandbox, User, Workspace
from tests.sandbox.kit import actions, button, section


def error_of(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        call(**kwargs)
    return dict(caught.value.response.data)


def raw_post(sb: SlackSandbox, method: str, body: bytes, content_type: str,
             token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(sb.api_url + method, data=body, headers=headers)
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
        return dict(json.loads(response.read()))


def test_auth_test_describes_the_bot(client: WebClient, sandbox: SlackSandbox) -> None:
    data = client.auth_test()
    assert data["ok"] is True
    assert data["user_id"] == sandbox.workspace.bot_user_id
    assert data["team_id"] == sandbox.workspace.team_id
    assert data["bot_id"] == sandbox.workspace.bot_id


def test_missing_and_wrong_tokens(sandbox: SlackSandbox) -> None:
    assert error_of(WebClient(base_url=sandbox.api_url).auth_test)["error"] == "not_authed"
    wrong = WebClient(base_url=sandbox.api_url, token="xoxb-nope")
    assert error_of(wrong.auth_test)["error"] == "invalid_auth"


def test_token_may_come_as_a_form_field(sandbox: SlackSandbox) -> None:
    body = f"token={sandbox.bot_token}&channel=C0GENERAL&text=hi".encode()
    data = raw_post(sandbox, "chat.postMessage", body, "application/x-www-form-urlencoded")
    assert data["ok"] is True
    assert sandbox.calls("chat.postMessage")[0].token == sandbox.bot_token


def test_blocks_as_json_text_inside_a_form(sandbox: SlackSandbox) -> None:
    form = {"channel": "C0GENERAL", "text": "fallback", "blocks": json.dumps([section("hi")])}
    body = urllib.parse.urlencode(form).encode()
    data = raw_post(sandbox, "chat.postMessage", body, "application/x-www-form-urlencoded",
                    token=sandbox.bot_token)
    assert data["message"]["blocks"][0]["text"]["text"] == "hi"
    assert sandbox.calls("chat.postMessage")[0].args["blocks"][0]["type"] == "section"


def test_json_body(sandbox: SlackSandbox) -> None:
    body = json.dumps({"channel": "#general", "text": "hello"}).encode()
    data = raw_post(sandbox, "chat.postMessage", body, "application/json; charset=utf-8",
                    token=sandbox.bot_token)
    assert data["channel"] == "C0GENERAL"


def test_post_message_shape_and_record(client: WebClient, sandbox: SlackSandbox) -> None:
    resp = client.chat_postMessage(channel="C0GENERAL", text="deploy?",
                                   blocks=[section("Deploy?"), actions(button("approve"))])
    msg = resp["message"]
    assert resp["channel"] == "C0GENERAL" and resp["ts"] == msg["ts"]
    assert msg["bot_id"] == sandbox.workspace.bot_id and msg["user"] == "U0SANDBOT"
    assert all(b.get("block_id") for b in msg["blocks"])  # Slack fills missing block_ids
    [stored] = sandbox.messages("C0GENERAL")
    assert stored.text == "deploy?" and stored.ts == resp["ts"]
    assert sandbox.calls("chat.postMessage")[0].response["ts"] == resp["ts"]


def test_message_ts_is_unique_and_increasing(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="C0GENERAL", text=str(i))["ts"] for i in range(5)]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 5


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_message_errors(client: WebClient) -> None:
    post = client.chat_postMessage
    assert error_of(post, channel="C0NOPE", text="x")["error"] == "channel_not_found"
    assert error_of(post, channel="C0GENERAL", text="")["error"] == "no_text"
    assert error_of(post, channel="C0GENERAL", text="x" * 40_001)["error"] == "msg_too_long"
    client.chat_postMessage(channel="C0GENERAL", text="x" * 40_000)


def test_not_in_channel() -> None:
    ws = Workspace(users=[User("U0A", "a")], channels=[Channel("C0PRIV", "priv", ("U0A",))])
    with SlackSandbox(ws) as sb:
        client = WebClient(base_url=sb.api_url, token=sb.bot_token)
        assert error_of(client.chat_postMessage, channel="C0PRIV",
                        text="x")["error"] == "not_in_channel"


def test_threads_and_reply_counts(client: WebClient, sandbox: SlackSandbox) -> None:
    parent = client.chat_postMessage(channel="C0GENERAL", text="parent")["ts"]
    first = client.chat_postMessage(channel="C0GENERAL", text="r1", thread_ts=parent)["ts"]
    client.chat_postMessage(channel="C0GENERAL", text="r2", thread_ts=first)  # reply to reply
    replies = client.conversations_replies(channel="C0GENERAL", ts=parent)["messages"]
    assert [m["text"] for m in replies] == ["parent", "r1", "r2"]
    assert replies[0]["reply_count"] == 2 and replies[0]["thread_ts"] == parent
    assert all(m["thread_ts"] == parent for m in replies[1:])
    assert [m.text for m in sandbox.thread("C0GENERAL", parent)] == ["parent", "r1", "r2"]
    assert [m.text for m in sandbox.messages("C0GENERAL")] == ["parent"]
    history = client.conversations_history(channel="C0GENERAL")["messages"]
    assert [m["text"] for m in history] == ["parent"]


def test_history_is_newest_first_and_paginates(client: WebClient) -> None:
    for i in range(5):
        client.chat_postMessage(channel="C0GENERAL", text=f"m{i}")
    page = client.conversations_history(channel="C0GENERAL", limit=2)
    assert [m["text"] for m in page["messages"]] == ["m4", "m3"] and page["has_more"]
    cursor = page["response_metadata"]["next_cursor"]
    rest = client.conversations_history(channel="C0GENERAL", limit=10, cursor=cursor)
    assert [m["text"] for m in rest["messages"]] == ["m2", "m1", "m0"]
    assert rest["has_more"] is False


def test_unknown_thread(client: WebClient) -> None:
    assert error_of(client.conversations_replies, channel="C0GENERAL",
                    ts="1.000001")["error"] == "thread_not_found"


def test_update_keeps_history(client: WebClient, sandbox: SlackSandbox) -> None:
    ts = client.chat_postMessage(channel="C0GENERAL", text="v1", blocks=[section("v1")])["ts"]
    resp = client.chat_update(channel="C0GENERAL", ts=ts, text="v2", blocks=[section("v2")])
    assert resp["message"]["text"] == "v2" and resp["ts"] == ts
    assert "edited" in resp["message"]
    msg = sandbox.message("C0GENERAL", ts)
    assert msg is not None and [h["text"] for h in msg.history] == ["v1"]
    assert msg.blocks[0]["text"]["text"] == "v2"


def test_update_errors(client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0GENERAL", text="v1")["ts"]
    update = client.chat_update
    assert error_of(update, channel="C0GENERAL", ts="1.1", text="x")["error"] == \
        "message_not_found"
    assert error_of(update, channel="C0GENERAL", ts=ts, text="x" * 4001)["error"] == \
        "msg_too_long"
    client.chat_update(channel="C0GENERAL", ts=ts, text="x" * 4000)


def test_cannot_update_a_users_message(client: WebClient, sandbox: SlackSandbox,
                                       receiver: Any) -> None:
    msg, _ = sandbox.post_as_user("U0ALICE", "C0GENERAL", "mine")
    assert error_of(client.chat_update, channel="C0GENERAL", ts=msg.ts,
                    text="x")["error"] == "cant_update_message"


def test_ephemeral(client: WebClient, sandbox: SlackSandbox) -> None:
    resp = client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="only you")
    [eph] = sandbox.ephemerals("U0ALICE")
    assert eph.ts == resp["message_ts"] and eph.text == "only you"
    assert sandbox.ephemerals("U0BOB") == [] and sandbox.messages("C0GENERAL") == []
    # Slack answers a user it does not know as one who is not in the channel.
    assert error_of(client.chat_postEphemeral, channel="C0GENERAL", user="U0NOBODY",
                    text="x")["error"] == "user_not_in_channel"


def test_permalink(client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0GENERAL", text="x")["ts"]
    link = client.chat_getPermalink(channel="C0GENERAL", message_ts=ts)["permalink"]
    assert link.endswith(f"/archives/C0GENERAL/p{ts.replace('.', '')}")
    assert error_of(client.chat_getPermalink, channel="C0GENERAL",
                    message_ts="1.2")["error"] == "message_not_found"


def test_dms_are_stable_per_user_set(client: WebClient, sandbox: SlackSandbox) -> None:
    one = client.conversations_open(users="U0ALICE")["channel"]["id"]
    again = client.conversations_open(users="U0ALICE")
    assert again["channel"]["id"] == one and one.startswith("D") and again["already_open"]
    group = client.conversations_open(users="U0BOB,U0ALICE")["channel"]["id"]
    assert group == client.conversations_open(users="U0ALICE,U0BOB")["channel"]["id"]
    assert group.startswith("G") and group != one
    posted = client.chat_postMessage(channel="U0ALICE", text="psst")  # a user id opens the DM
    assert posted["channel"] == one and sandbox.messages(one)[0].text == "psst"
    assert error_of(client.conversations_open, users="U0NOBODY")["error"] == "user_not_found"


def test_users_and_groups(client: WebClient) -> None:
    user = client.users_info(user="U0ALICE")["user"]
    assert user["name"] == "alice" and user["profile"]["email"] == "alice@example.com"
    assert client.users_lookupByEmail(email="BOB@example.com")["user"]["id"] == "U0BOB"
    assert client.usergroups_users_list(usergroup="S0REVIEW")["users"] == ["U0ALICE", "U0BOB"]
    assert error_of(client.users_info, user="U0NOBODY")["error"] == "user_not_found"
    assert error_of(client.users_lookupByEmail, email="x@y.z")["error"] == "users_not_found"
    assert error_of(client.usergroups_users_list, usergroup="S0NONE")["error"] == \
        "no_such_subteam"


def test_configured_workspace() -> None:
    ws = Workspace(team_id="T0ACME", bot_user_id="U0BOT", bot_tokens=("xoxb-a", "xoxb-b"),
                   users=[User("U0X", "x", "X Ray", "x@acme.test")],
                   usergroups={"S0ONCALL": ["U0X"]}, channels=[Channel("C0OPS", "ops")])
    with SlackSandbox(ws) as sb:
        for token in ws.bot_tokens:
            client = WebClient(base_url=sb.api_url, token=token)
            assert client.auth_test()["team_id"] == "T0ACME"
        assert client.chat_postMessage(channel="#ops", text="x")["channel"] == "C0OPS"


def test_workspace_rejects_malformed_ids() -> None:
    with pytest.raises(ValueError, match="must start with"):
        Workspace(users=[User("alice", "alice")])


def test_unknown_method(sandbox: SlackSandbox) -> None:
    body = b"token=" + sandbox.bot_token.encode()
    data = raw_post(sandbox, "chat.teleport", body, "application/x-www-form-urlencoded")
    assert data == {"ok": False, "error": "unknown_method"}
