"""Who is on call: rotations, restrictions, overrides, layers and daylight-saving time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from escalation.schedules import Schedule, wall_to_instant

NY = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def schedule(*layers: dict[str, Any], tz: str = "UTC", overrides: Any = ()) -> Schedule:
    return Schedule.model_validate({"time_zone": tz, "layers": list(layers),
                                    "overrides": list(overrides)})


WEEKLY = {"start": "2026-01-05T09:00:00", "turn": "7d", "users": ["UA", "UB", "UC"]}


def test_weekly_rotation_hands_off_at_the_turn() -> None:
    s = schedule(WEEKLY)
    assert s.on_call(utc(2026, 1, 5, 8, 59)) is None  # before the layer starts
    assert s.on_call(utc(2026, 1, 5, 9)) == "UA"
    assert s.on_call(utc(2026, 1, 12, 8, 59)) == "UA"
    assert s.on_call(utc(2026, 1, 12, 9)) == "UB"
    assert s.on_call(utc(2026, 1, 19, 9)) == "UC"
    assert s.on_call(utc(2026, 1, 26, 9)) == "UA"  # wraps around


def test_rotation_start_before_layer_start_sets_the_phase() -> None:
    s = schedule({**WEEKLY, "rotation_start": "2025-12-29T09:00:00"})
    assert s.on_call(utc(2026, 1, 5, 9)) == "UB"  # UA's turn was the week before


def test_layer_end_is_exclusive() -> None:
    s = schedule({**WEEKLY, "end": "2026-01-10T00:00:00"})
    assert s.on_call(utc(2026, 1, 9, 23, 59)) == "UA"
    assert s.on_call(utc(2026, 1, 10)) is None


def test_daily_restriction_masks_time_but_not_the_rotation() -> None:
    layer = {"start": "2026-01-05T00:00:00", "turn": "1d", "users": ["UA", "UB"],
             "restrictions": [{"type": "daily", "start": "09:00", "duration": "8h"}]}
    s = schedule(layer)
    assert s.on_call(utc(2026, 1, 5, 8, 59)) is None
    assert s.on_call(utc(2026, 1, 5, 9)) == "UA"
    assert s.on_call(utc(2026, 1, 5, 16, 59)) == "UA"
    assert s.on_call(utc(2026, 1, 5, 17)) is None
    assert s.on_call(utc(2026, 1, 6, 12)) == "UB"


def test_daily_restriction_across_midnight() -> None:
    layer = {"start": "2026-01-05T00:00:00", "turn": "7d", "users": ["UA"],
             "restrictions": [{"type": "daily", "start": "22:00", "duration": "8h"}]}
    s = schedule(layer)
    assert s.on_call(utc(2026, 1, 6, 5, 59)) == "UA"  # the window opened yesterday
    assert s.on_call(utc(2026, 1, 6, 6)) is None
    assert s.on_call(utc(2026, 1, 6, 21, 59)) is None


def test_weekly_restriction_business_week() -> None:
    layer = {"start": "2026-01-05T00:00:00", "turn": "7d", "users": ["UA"],
             "restrictions": [{"type": "weekly", "day": "monday", "start": "09:00",
                               "duration": "4d8h"}]}
    s = schedule(layer)
    assert s.on_call(utc(2026, 1, 5, 8, 59)) is None  # Monday before nine
    assert s.on_call(utc(2026, 1, 5, 9)) == "UA"
    assert s.on_call(utc(2026, 1, 7, 3)) == "UA"  # Wednesday night
    assert s.on_call(utc(2026, 1, 9, 16, 59)) == "UA"  # Friday afternoon
    assert s.on_call(utc(2026, 1, 9, 17)) is None
    assert s.on_call(utc(2026, 1, 11, 12)) is None  # Sunday


def test_weekly_restriction_wrapping_the_week() -> None:
    layer = {"start": "2026-01-01T00:00:00", "turn": "7d", "users": ["UA"],
             "restrictions": [{"type": "weekly", "day": 6, "start": "18:00", "duration": "2d"}]}
    s = schedule(layer)  # Saturday 18:00 to Monday 18:00
    assert s.on_call(utc(2026, 1, 10, 17, 59)) is None
    assert s.on_call(utc(2026, 1, 10, 18)) == "UA"
    assert s.on_call(utc(2026, 1, 12, 17, 59)) == "UA"  # Monday, window from Saturday
    assert s.on_call(utc(2026, 1, 12, 18)) is None


def test_later_layer_covers_earlier_only_where_it_has_someone() -> None:
    base = {"start": "2026-01-05T00:00:00", "turn": "7d", "users": ["UBASE"]}
    nights = {"start": "2026-01-05T00:00:00", "turn": "1d", "users": ["UN1", "UN2"],
              "restrictions": [{"type": "daily", "start": "20:00", "duration": "12h"}]}
    s = schedule(base, nights)
    assert s.on_call(utc(2026, 1, 5, 12)) == "UBASE"
    assert s.on_call(utc(2026, 1, 5, 21)) == "UN1"
    assert s.on_call(utc(2026, 1, 6, 7)) == "UN2"  # turns hand off at midnight


def test_overrides_win_and_the_last_listed_wins_among_them() -> None:
    overrides = [
        {"start": "2026-01-06T00:00:00Z", "end": "2026-01-08T00:00:00Z", "user": "UO1"},
        {"start": "2026-01-07T00:00:00Z", "end": "2026-01-07T12:00:00Z", "user": "UO2"},
    ]
    s = schedule(WEEKLY, overrides=overrides)
    assert s.on_call(utc(2026, 1, 5, 23, 59)) == "UA"
    assert s.on_call(utc(2026, 1, 6)) == "UO1"
    assert s.on_call(utc(2026, 1, 7, 6)) == "UO2"
    assert s.on_call(utc(2026, 1, 7, 12)) == "UO1"
    assert s.on_call(utc(2026, 1, 8)) == "UA"  # end is exclusive


def test_override_fills_a_gap_with_nobody_on_call() -> None:
    s = schedule(overrides=[{"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00",
                             "user": "UO"}])
    assert s.on_call(utc(2026, 1, 1, 5)) == "UO"
    assert s.on_call(utc(2026, 1, 2, 5)) is None


# -- daylight saving time (America/New_York: 2026-03-08 02:00 → 03:00, 2026-11-01 02:00 → 01:00)


DAILY_NY = {"start": "2026-03-01T09:00:00", "turn": "1d", "users": ["UA", "UB"]}


def test_daily_handoff_stays_at_nine_local_across_spring_forward() -> None:
    s = schedule(DAILY_NY, tz="America/New_York")
    # Saturday 7 March: 09:00 EST = 14:00Z. Sunday 8 March: 09:00 EDT = 13:00Z.
    assert s.on_call(utc(2026, 3, 7, 13, 59)) == "UB"  # 08:59 EST, Friday's turn
    assert s.on_call(utc(2026, 3, 7, 14)) == "UA"
    assert s.on_call(utc(2026, 3, 8, 12, 59)) == "UA"  # 08:59 EDT
    assert s.on_call(utc(2026, 3, 8, 13)) == "UB"  # 09:00 EDT: an hour earlier in UTC


def test_daily_handoff_stays_at_nine_local_across_fall_back() -> None:
    s = schedule({**DAILY_NY, "start": "2026-10-25T09:00:00"}, tz="America/New_York")
    # Saturday 31 October 09:00 EDT = 13:00Z; Sunday 1 November 09:00 EST = 14:00Z.
    assert s.on_call(utc(2026, 10, 31, 12, 59)) == "UB"
    assert s.on_call(utc(2026, 10, 31, 13)) == "UA"
    assert s.on_call(utc(2026, 11, 1, 13, 30)) == "UA"  # 08:30 EST: still Saturday's turn
    assert s.on_call(utc(2026, 11, 1, 14)) == "UB"  # 09:00 EST: an hour later in UTC


def test_hourly_turn_in_the_spring_gap_has_no_length() -> None:
    hourly = {"start": "2026-03-08T00:00:00", "turn": "1h", "users": ["U0", "U1", "U2", "U3"]}
    s = schedule(hourly, tz="America/New_York")
    assert s.on_call(utc(2026, 3, 8, 6, 59)) == "U1"  # 01:59 EST
    # 02:00 does not exist: that turn begins when the clocks jump, together with 03:00's.
    assert s.on_call(utc(2026, 3, 8, 7)) == "U3"  # 03:00 EDT


def test_hourly_turn_in_the_repeated_hour_runs_two_hours() -> None:
    hourly = {"start": "2026-11-01T00:00:00", "turn": "1h", "users": ["U0", "U1", "U2", "U3"]}
    s = schedule(hourly, tz="America/New_York")
    assert s.on_call(utc(2026, 11, 1, 5)) == "U1"  # 01:00 EDT, first pass
    assert s.on_call(utc(2026, 11, 1, 6, 30)) == "U1"  # 01:30 EST, second pass: no flip back
    assert s.on_call(utc(2026, 11, 1, 7)) == "U2"  # 02:00 EST


def test_restriction_window_follows_local_time_across_dst() -> None:
    layer = {**DAILY_NY, "users": ["UA"],
             "restrictions": [{"type": "daily", "start": "09:00", "duration": "8h"}]}
    s = schedule(layer, tz="America/New_York")
    assert s.on_call(utc(2026, 3, 7, 13)) is None  # 08:00 EST
    assert s.on_call(utc(2026, 3, 9, 13)) == "UA"  # 09:00 EDT
    assert s.on_call(utc(2026, 3, 9, 21)) is None  # 17:00 EDT


def test_wall_times_in_gap_and_overlap() -> None:
    assert wall_to_instant(datetime(2026, 3, 8, 2, 30), NY) == utc(2026, 3, 8, 7, 30)
    assert wall_to_instant(datetime(2026, 11, 1, 1, 30), NY) == utc(2026, 11, 1, 5, 30)


def test_aware_datetimes_keep_their_offset() -> None:
    s = schedule({**WEEKLY, "start": "2026-01-05T09:00:00-05:00"}, tz="Europe/Berlin")
    assert s.on_call(utc(2026, 1, 5, 13, 59)) is None
    assert s.on_call(utc(2026, 1, 5, 14)) == "UA"


def test_users_lists_everybody_once() -> None:
    s = schedule(WEEKLY, overrides=[{"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00",
                                     "user": "UA"}])
    assert s.users() == ("UA", "UB", "UC")


@pytest.mark.parametrize("bad", [
    {"time_zone": "Mars/Olympus"},
    {"layers": [{**WEEKLY, "restrictions": [{"type": "weekly", "start": "09:00",
                                              "duration": "1h"}]}]},
    {"layers": [{**WEEKLY, "restrictions": [{"type": "daily", "start": "09:00",
                                              "duration": "25h"}]}]},
    {"layers": [{**WEEKLY, "users": []}]},
    {"overrides": [{"start": "2026-01-02T00:00:00", "end": "2026-01-01T00:00:00", "user": "U"}]},
])
def test_invalid_schedules_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Schedule.model_validate(bad)


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        schedule(WEEKLY).on_call(datetime(2026, 1, 5, 9))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=366 * 24 * 4),
       st.sampled_from(["1h", "8h", "12h", "1d", "7d"]))
def test_turns_never_go_backwards(quarter_hours: int, turn: str) -> None:
    users = [f"U{i}" for i in range(50)]
    s = schedule({"start": "2026-01-01T00:30:00", "turn": turn, "users": users},
                 tz="America/New_York")
    t1 = utc(2026, 1, 1, 6) + timedelta(minutes=15 * quarter_hours)
    first, second = s.on_call(t1), s.on_call(t1 + timedelta(minutes=15))
    assert first is not None and second is not None
    assert (int(second[1:]) - int(first[1:])) % len(users) in (0, 1, 2)
