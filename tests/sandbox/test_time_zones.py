"""users.info's time zone fields: ``tz`` from the profile, ``tz_label`` and ``tz_offset`` as
in force at the sandbox's clock (they follow daylight saving time, as Slack's do)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient

from bot.sandbox import ManualClock, SlackSandbox, User, Workspace

WINTER = datetime(2026, 1, 15, 12, tzinfo=UTC).timestamp()
SUMMER = datetime(2026, 7, 15, 12, tzinfo=UTC).timestamp()


def _zone(client: WebClient, user: str) -> tuple[object, object, object]:
    data = client.users_info(user=user)["user"]
    return data["tz"], data["tz_label"], data["tz_offset"]


def test_a_user_without_a_zone_set_reads_as_utc(client: WebClient) -> None:
    assert _zone(client, "U0ALICE") == ("UTC", "Coordinated Universal Time", 0)


def test_label_and_offset_follow_daylight_saving_time() -> None:
    clock = ManualClock(WINTER)
    ws = Workspace(users=[User("U0SF", "sam", email="sam@example.com", tz="America/Los_Angeles"),
                          User("U0TOKYO", "tomo", tz="Asia/Tokyo"),
                          User("U0SANTIAGO", "sofia", tz="America/Santiago")])
    with SlackSandbox(ws, clock=clock) as sb:
        client = WebClient(base_url=sb.api_url, token=sb.bot_token)
        assert _zone(client, "U0SF") == ("America/Los_Angeles", "Pacific Standard Time",
                                         -28800)
        assert _zone(client, "U0TOKYO") == ("Asia/Tokyo", "Japan Standard Time", 32400)
        assert _zone(client, "U0SANTIAGO") == ("America/Santiago", "-03", -10800)
        clock.set(SUMMER)
        assert _zone(client, "U0SF") == ("America/Los_Angeles", "Pacific Daylight Time",
                                         -25200)
        assert _zone(client, "U0TOKYO")[2] == 32400  # no daylight saving time in Japan
        assert _zone(client, "U0SANTIAGO") == ("America/Santiago", "-04", -14400)
        # users.lookupByEmail returns the same user object.
        found = client.users_lookupByEmail(email="sam@example.com")["user"]
        assert (found["tz_label"], found["tz_offset"]) == ("Pacific Daylight Time", -25200)


def test_tests_can_change_a_users_zone_at_run_time(sandbox: SlackSandbox,
                                                    client: WebClient) -> None:
    sandbox.set_time_zone("U0BOB", "Europe/Berlin")
    tz, _label, offset = _zone(client, "U0BOB")
    assert tz == "Europe/Berlin" and offset in (3600, 7200)
    # A zone Slack knows but Python may not: label and offset pinned, as Slack sends them.
    sandbox.set_time_zone("U0BOB", None, tz_label="Pacific Standard Time", tz_offset=-28800)
    assert _zone(client, "U0BOB") == (None, "Pacific Standard Time", -28800)
    with pytest.raises(ValueError, match="no user"):
        sandbox.set_time_zone("U0NOBODY", "UTC")


def test_an_unknown_zone_is_refused_unless_label_and_offset_are_pinned() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'America/Atlantis'"):
        User("U0X", "x", tz="America/Atlantis")
    pinned = User("U0X", "x", tz="America/Atlantis", tz_label="Atlantis Time", tz_offset=-3600)
    assert pinned.to_slack("T0", WINTER)["tz_offset"] == -3600
    ws = Workspace.from_dict({"users": [{"id": "U0Y", "name": "y", "tz": "Asia/Kolkata"}]})
    assert ws.users[0].to_slack("T0", WINTER)["tz_label"] == "India Standard Time"
