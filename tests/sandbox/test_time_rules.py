"""Slack's rules of time and of views: triggers, response URLs, the post rate, view stacks."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.sandbox import ManualClock, SlackSandbox
from tests.sandbox.conftest import Receiver
from tests.sandbox.kit import actions, button, modal, section


def _error(call: Any, **kwargs: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        call(**kwargs)
    return str(caught.value.response["error"])


def _clicked(sandbox: SlackSandbox, client: WebClient, receiver: Receiver) -> dict[str, Any]:
    """Post a card, click its button, and return the payload the app received."""
    client.chat_postMessage(channel="C0GENERAL", text="card", blocks=[actions(button("go"))])
    assert sandbox.click("U0ALICE", action_id="go").ok
    return dict(receiver.payload())


# -- trigger_id ------------------------------------------------------------------------------

def test_trigger_works_once(sandbox: SlackSandbox, client: WebClient,
                            receiver: Receiver) -> None:
    trigger = _clicked(sandbox, client, receiver)["trigger_id"]
    view = client.views_open(trigger_id=trigger, view=modal())["view"]
    assert [v.id for v in sandbox.views("U0ALICE")] == [view["id"]]
    assert _error(client.views_open, trigger_id=trigger, view=modal()) == "exchanged_trigger_id"


def test_trigger_expires_after_3_seconds(sandbox: SlackSandbox, client: WebClient,
                                         receiver: Receiver, clock: ManualClock) -> None:
    trigger = _clicked(sandbox, client, receiver)["trigger_id"]
    clock.advance(3.0)
    client.views_open(trigger_id=trigger, view=modal())  # exactly 3 s is still in time
    late = _clicked(sandbox, client, receiver)["trigger_id"]
    clock.advance(3.01)
    assert _error(client.views_open, trigger_id=late, view=modal()) == "expired_trigger_id"


def test_unknown_trigger(client: WebClient) -> None:
    assert _error(client.views_open, trigger_id="1.2.3", view=modal()) == "invalid_trigger_id"


# -- response_url ----------------------------------------------------------------------------

def test_response_url_five_uses(sandbox: SlackSandbox, client: WebClient,
                                receiver: Receiver) -> None:
    hook = WebhookClient(_clicked(sandbox, client, receiver)["response_url"])
    for i in range(5):
        assert hook.send(text=f"update {i}", replace_original=True).status_code == 200
    sixth = hook.send(text="one too many", replace_original=True)
    assert sixth.status_code == 404 and "used_url" in sixth.body
    [card] = sandbox.messages("C0GENERAL")
    assert card.text == "update 4" and len(card.history) == 5


def test_response_url_expires_after_30_minutes(sandbox: SlackSandbox, client: WebClient,
                                               receiver: Receiver, clock: ManualClock) -> None:
    hook = WebhookClient(_clicked(sandbox, client, receiver)["response_url"])
    clock.advance(30 * 60)
    assert hook.send(text="just in time").status_code == 200
    clock.advance(1)
    late = hook.send(text="too late")
    assert late.status_code == 404 and "expired_url" in late.body


def test_response_url_kinds(sandbox: SlackSandbox, client: WebClient,
                            receiver: Receiver) -> None:
    url = _clicked(sandbox, client, receiver)["response_url"]
    hook = WebhookClient(url)
    card = sandbox.messages("C0GENERAL")[0]
    hook.send(text="only for alice")  # Slack's default: ephemeral to the clicking user
    assert [e.text for e in sandbox.ephemerals("U0ALICE")] == ["only for alice"]
    hook.send_dict({"text": "for all", "response_type": "in_channel", "thread_ts": card.ts})
    assert [m.text for m in sandbox.thread("C0GENERAL", card.ts)] == ["card", "for all"]
    hook.send(text="", blocks=[section("decided")], replace_original=True)
    assert sandbox.messages("C0GENERAL")[0].blocks[0]["text"]["text"] == "decided"
    bad = hook.send(text="x", blocks=[section("y" * 3001)], replace_original=True)
    assert bad.status_code == 400 and "invalid_blocks" in bad.body
    hook.send(delete_original=True)
    assert sandbox.messages("C0GENERAL") == []


# -- chat.postMessage rate limit, honoured by the SDK's retry handler --------------------------

def test_rate_limit_is_retried_by_the_sdk_handler() -> None:
    # Real time here: the SDK's handler really sleeps for Retry-After.
    with SlackSandbox(rate_limit=1, rate_window=1.0) as sb:
        client = WebClient(base_url=sb.api_url, token=sb.bot_token,
                           retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
        client.chat_postMessage(channel="C0GENERAL", text="first")
        client.chat_postMessage(channel="C0GENERAL", text="second")
        client.chat_postMessage(channel="C0RANDOM", text="elsewhere")  # per channel
        statuses = [(c.args["text"], c.status) for c in sb.calls("chat.postMessage")]
        assert statuses == [("first", 200), ("second", 429), ("second", 200),
                            ("elsewhere", 200)]
        assert sb.calls("chat.postMessage")[1].response == {"ok": False, "error": "ratelimited"}
        assert [m.text for m in sb.messages("C0GENERAL")] == ["first", "second"]


def test_rate_limit_without_a_handler(clock: ManualClock) -> None:
    with SlackSandbox(clock=clock, rate_limit=2, rate_window=1.0) as sb:
        client = WebClient(base_url=sb.api_url, token=sb.bot_token)
        for _ in range(2):
            client.chat_postMessage(channel="C0GENERAL", text="x")
        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel="C0GENERAL", text="x")
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "1"
        clock.advance(1.0)
        client.chat_postMessage(channel="C0GENERAL", text="x")


def test_rate_limit_is_off_by_default(client: WebClient) -> None:
    for i in range(20):
        client.chat_postMessage(channel="C0GENERAL", text=str(i))


# -- view stacks -----------------------------------------------------------------------------

def _open(sandbox: SlackSandbox, client: WebClient, **extra: Any) -> dict[str, Any]:
    return dict(client.views_open(trigger_id=sandbox.issue_trigger("U0ALICE"),
                                  view=modal(**extra))["view"])


def test_push_limit(sandbox: SlackSandbox, client: WebClient) -> None:
    root = _open(sandbox, client)
    for _ in range(2):
        pushed = client.views_push(trigger_id=sandbox.issue_trigger("U0ALICE"), view=modal())
        assert pushed["view"]["root_view_id"] == root["id"]
    assert _error(client.views_push, trigger_id=sandbox.issue_trigger("U0ALICE"),
                  view=modal()) == "push_limit_reached"
    assert len(sandbox.views("U0ALICE")) == 3


def test_update_with_stale_hash(sandbox: SlackSandbox, client: WebClient) -> None:
    view = _open(sandbox, client)
    fresh = client.views_update(view_id=view["id"], hash=view["hash"],
                                view=modal(section("v2")))["view"]
    assert fresh["hash"] != view["hash"]
    assert _error(client.views_update, view_id=view["id"], hash=view["hash"],
                  view=modal()) == "hash_conflict"
    current = sandbox.views("U0ALICE")[-1]
    assert current.blocks[0]["text"]["text"] == "v2" and len(current.history) == 1


def test_update_by_external_id_and_unknown_views(sandbox: SlackSandbox,
                                                 client: WebClient) -> None:
    _open(sandbox, client, external_id="ticket-7")
    client.views_update(external_id="ticket-7", view=modal(section("by external id")))
    assert sandbox.views("U0ALICE")[0].blocks[0]["text"]["text"] == "by external id"
    assert _error(client.views_update, view_id="V0NOPE", view=modal()) == "not_found"


def test_home_publish_and_hash(client: WebClient, sandbox: SlackSandbox) -> None:
    home = {"type": "home", "blocks": [section("welcome")]}
    first = client.views_publish(user_id="U0ALICE", view=home)["view"]
    client.views_publish(user_id="U0ALICE", view=home, hash=first["hash"])
    assert _error(client.views_publish, user_id="U0ALICE", view=home,
                  hash=first["hash"]) == "hash_conflict"
    assert _error(client.views_publish, user_id="U0NOBODY", view=home) == "invalid_arguments"
    published = sandbox.home("U0ALICE")
    assert published is not None and published.id == first["id"]


def test_state_is_thread_safe_under_concurrent_posts(client: WebClient,
                                                     sandbox: SlackSandbox) -> None:
    def post(n: int) -> None:
        for i in range(10):
            client.chat_postMessage(channel="C0GENERAL", text=f"{n}-{i}")

    threads = [threading.Thread(target=post, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps = [m.ts for m in sandbox.messages("C0GENERAL")]
    assert len(stamps) == 50 and len(set(stamps)) == 50
