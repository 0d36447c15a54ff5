"""Channel membership and scopes, as Slack enforces them on a bot token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.sandbox import Channel, SlackSandbox, User, Workspace
from tests.sandbox.test_webapi import error_of

PEOPLE = [User("U0ANN", "ann"), User("U0BEN", "ben")]


def fresh(scopes: tuple[str, ...] | None = ("chat:write", "im:write")) -> Workspace:
    """A workspace right after the app was installed: its bot user is in no channel."""
    return Workspace(users=PEOPLE, bot_scopes=scopes, channels=[
        Channel("C0PUBLIC", "public", bot_member=False),
        Channel("G0SECRET", "secret", ("U0ANN",), is_private=True),
        Channel("C0OLD", "old", is_archived=True),
    ])


@pytest.fixture
def sb() -> Iterator[SlackSandbox]:
    with SlackSandbox(fresh(("chat:write", "im:write", "channels:read", "groups:read",
                             "channels:join"))) as sandbox:
        yield sandbox


def client_of(sandbox: SlackSandbox) -> WebClient:
    return WebClient(base_url=sandbox.api_url, token=sandbox.bot_token)


def test_a_fresh_install_cannot_post_in_a_public_channel(sb: SlackSandbox) -> None:
    post = client_of(sb).chat_postMessage
    assert error_of(post, channel="C0PUBLIC", text="x")["error"] == "not_in_channel"
    sb.invite_bot("#public")
    assert post(channel="C0PUBLIC", text="x")["ok"]


def test_chat_write_public_posts_without_joining() -> None:
    with SlackSandbox(fresh(("chat:write", "chat:write.public"))) as sandbox:
        client = client_of(sandbox)
        assert client.chat_postMessage(channel="C0PUBLIC", text="x")["ok"]
        # ... but never in a private channel, which stays hidden from the app
        assert error_of(client.chat_postMessage, channel="G0SECRET",
                        text="x")["error"] == "channel_not_found"


def test_a_private_channel_is_hidden_until_the_bot_is_invited(sb: SlackSandbox) -> None:
    client = client_of(sb)
    for call in (client.chat_postMessage, client.conversations_info):
        assert error_of(call, channel="G0SECRET", text="x")["error"] == "channel_not_found"
    sb.invite_bot("G0SECRET")
    info = client.conversations_info(channel="G0SECRET")["channel"]
    assert info["is_private"] and info["is_member"]
    assert client.chat_postMessage(channel="G0SECRET", text="x")["ok"]


def test_archived_channels_refuse_posts(sb: SlackSandbox) -> None:
    client = client_of(sb)
    assert error_of(client.chat_postMessage, channel="C0OLD", text="x")["error"] == "is_archived"
    assert client.conversations_info(channel="C0OLD")["channel"]["is_archived"] is True
    assert error_of(client.conversations_join, channel="C0OLD")["error"] == "is_archived"


def test_join_public_only(sb: SlackSandbox) -> None:
    client = client_of(sb)
    assert client.conversations_info(channel="C0PUBLIC")["channel"]["is_member"] is False
    joined = client.conversations_join(channel="C0PUBLIC")
    assert joined["channel"]["id"] == "C0PUBLIC" and "warning" not in joined
    assert client.conversations_info(channel="C0PUBLIC")["channel"]["is_member"] is True
    again = client.conversations_join(channel="C0PUBLIC")
    assert again["warning"] == "already_in_channel"
    sb.invite_bot("G0SECRET")
    assert error_of(client.conversations_join,
                    channel="G0SECRET")["error"] == "method_not_supported_for_channel_type"


def test_missing_scope_names_what_was_needed_and_what_the_token_has() -> None:
    with SlackSandbox(fresh(("chat:write", "im:write"))) as sandbox:
        client = client_of(sandbox)
        data = error_of(client.conversations_info, channel="C0PUBLIC")
        assert data == {"ok": False, "error": "missing_scope", "needed": "channels:read",
                        "provided": "chat:write,im:write"}
        assert error_of(client.usergroups_users_list,
                        usergroup="S0X")["needed"] == "usergroups:read"
        assert error_of(client.conversations_join, channel="C0PUBLIC")["needed"] == (
            "channels:join")
        assert client.conversations_open(users="U0ANN")["ok"]  # im:write is granted


def test_conversations_open_answers_only_the_id() -> None:
    with SlackSandbox(fresh()) as sandbox:
        client = client_of(sandbox)
        first = client.conversations_open(users="U0ANN")
        assert first.data == {"ok": True, "channel": {"id": sandbox.dm_channel("U0ANN")}}
        again = client.conversations_open(users="U0ANN")
        assert again["no_op"] is True and again["already_open"] is True
