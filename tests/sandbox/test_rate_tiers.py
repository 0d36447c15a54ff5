"""Slack's per-method rate-limit tiers: 429 with Retry-After once a method's tier is used up."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import ManualClock, SlackSandbox


def _status(call: object, **kwargs: object) -> tuple[int, str | None]:
    try:
        call(**kwargs)  # type: ignore[operator]
    except SlackApiError as exc:
        return exc.response.status_code, exc.response.headers.get("Retry-After")
    return 200, None


def test_tiers_limit_each_method_and_say_when_to_retry() -> None:
    clock = ManualClock()
    with SlackSandbox(clock=clock, rate_tiers=True) as sb:
        client = WebClient(base_url=sb.api_url, token=sb.bot_token)
        for _ in range(20):  # usergroups.users.list is Tier 2: 20 a minute
            assert client.usergroups_users_list(usergroup="S0REVIEW")["ok"]
        status, after = _status(client.usergroups_users_list, usergroup="S0REVIEW")
        assert status == 429 and after == "60"
        assert sb.calls("usergroups.users.list")[-1].error == "ratelimited"
        # other methods have their own budget
        assert client.views_publish(user_id="U0ALICE", view={
            "type": "home", "blocks": [{"type": "section", "text": {
                "type": "plain_text", "text": "hi"}}]})["ok"]
        clock.advance(30)
        assert _status(client.usergroups_users_list, usergroup="S0REVIEW") == (429, "30")
        clock.advance(30)
        assert client.usergroups_users_list(usergroup="S0REVIEW")["ok"]


def test_tier_3_and_tier_4_budgets() -> None:
    clock = ManualClock()
    with SlackSandbox(clock=clock, rate_tiers=True) as sb:
        client = WebClient(base_url=sb.api_url, token=sb.bot_token)
        for _ in range(50):  # Tier 3
            client.conversations_open(users="U0ALICE")
        assert _status(client.conversations_open, users="U0ALICE")[0] == 429
        ts = client.chat_postMessage(channel="C0GENERAL", text="x")["ts"]
        for _ in range(100):  # Tier 4
            client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="x")
        assert _status(client.chat_postEphemeral, channel="C0GENERAL", user="U0ALICE",
                       text="x")[0] == 429
        assert client.chat_update(channel="C0GENERAL", ts=ts, text="y")["ok"]


def test_tiers_are_off_unless_asked(sandbox: SlackSandbox, client: WebClient) -> None:
    for _ in range(25):
        assert client.usergroups_users_list(usergroup="S0REVIEW")["ok"]
    sandbox.set_rate_tiers(True, window=60)
    for _ in range(20):
        client.usergroups_users_list(usergroup="S0REVIEW")
    assert _status(client.usergroups_users_list, usergroup="S0REVIEW")[0] == 429
