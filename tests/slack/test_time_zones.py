"""A reviewer's time zone from the sandbox's users.info: the profile's IANA name, else the
offset Slack reports, else UTC marked as a fallback; cached a minute, failures not cached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient

from bot.sandbox import SlackSandbox
from bot.slack.time_zones import (
    FALLBACK,
    SLACK_OFFSET,
    SLACK_TZ,
    UNREAD,
    TimeZones,
    Zone,
    zone_named,
    zone_of_user,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("user", "zone"), [
    ({"tz": "America/Los_Angeles", "tz_offset": -28800}, Zone("America/Los_Angeles", SLACK_TZ)),
    ({"tz": "Mars/Olympus", "tz_offset": 19800}, Zone("UTC+05:30", SLACK_OFFSET)),
    ({"tz": None, "tz_offset": -25200}, Zone("UTC-07:00", SLACK_OFFSET)),
    ({"tz": "../../etc/passwd", "tz_offset": 0}, Zone("UTC+00:00", SLACK_OFFSET)),
    ({"tz": None, "tz_offset": True}, FALLBACK),  # not a number of seconds
    ({"tz": None, "tz_offset": 15 * 3600}, FALLBACK),  # no zone is that far from UTC
    ({"tz": None, "tz_offset": 3601}, FALLBACK),  # not whole minutes
    ({}, FALLBACK),
])
def test_the_name_comes_first_then_the_offset_then_utc(user: dict[str, Any], zone: Zone) -> None:
    assert zone_of_user(user) == zone


def test_zones_tell_time_as_their_names_say() -> None:
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert summer.astimezone(Zone("America/Los_Angeles", SLACK_TZ).tz).utcoffset() == \
        timedelta(hours=-7)
    assert Zone("UTC-07:00", SLACK_OFFSET).tz == timezone(timedelta(hours=-7))
    assert Zone("UTC+05:45", SLACK_OFFSET).tz == timezone(timedelta(hours=5, minutes=45))
    assert summer.astimezone(FALLBACK.tz).utcoffset() == timedelta(0)
    assert (FALLBACK.name, FALLBACK.source) == ("UTC", UNREAD)


def test_a_zone_carried_back_by_a_form_is_read_strictly() -> None:
    assert zone_named("Asia/Tokyo", SLACK_TZ) == Zone("Asia/Tokyo", SLACK_TZ)
    assert zone_named("UTC-03:30", SLACK_OFFSET).tz == timezone(-timedelta(hours=3, minutes=30))
    for name, how in [(None, None), ("Asia/Tokyo", None), ("Nowhere/Land", SLACK_TZ),
                      ("UTC+25:00", SLACK_OFFSET), ("UTC+01:75", SLACK_OFFSET),
                      ("UTC", UNREAD)]:
        assert zone_named(name, how) == FALLBACK, (name, how)


def test_lookups_are_cached_a_minute_and_failures_are_not(sandbox: SlackSandbox,
                                                          slack: WebClient) -> None:
    sandbox.set_time_zone("U0LEAD", "Asia/Tokyo")
    clock = Clock()
    zones = TimeZones(slack, clock=clock)
    assert zones.lookup("U0LEAD") == Zone("Asia/Tokyo", SLACK_TZ)
    sandbox.set_time_zone("U0LEAD", "Europe/Paris")
    clock.now = 59.0
    assert zones.lookup("U0LEAD").name == "Asia/Tokyo"  # cached
    clock.now = 61.0
    assert zones.lookup("U0LEAD").name == "Europe/Paris"
    assert len(sandbox.calls("users.info")) == 2

    sandbox.inject_fault("users.info", error="fatal_error")
    assert zones.lookup("U0FINOPS") == FALLBACK
    assert zones.lookup("U0FINOPS") == Zone("UTC", SLACK_TZ)  # read this time
    assert zones.lookup("U0NOBODY") == FALLBACK  # user_not_found
    assert ZoneInfo("Asia/Tokyo") is Zone("Asia/Tokyo", SLACK_TZ).tz  # zoneinfo's own cache
