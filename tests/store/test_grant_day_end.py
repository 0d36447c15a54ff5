"""Where "until end of day" ends: the next midnight in the granter's time zone, with
daylight saving time as the zone has it (23- and 25-hour days, a midnight that never comes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from store.grants import end_of_day

LA, TOKYO = ZoneInfo("America/Los_Angeles"), ZoneInfo("Asia/Tokyo")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(("at", "zone", "end"), [
    # 15:00 in San Francisco (23:00 UTC): the end of their day, not midnight UTC.
    (utc(2026, 11, 26, 23), LA, utc(2026, 11, 27, 8)),
    # 01:00 UTC is still the 26th there: the same end.
    (utc(2026, 11, 27, 1), LA, utc(2026, 11, 27, 8)),
    # 10:00 in Tokyo (01:00 UTC): their day ends at 15:00 UTC, not 09:00 the next morning.
    (utc(2026, 11, 27, 1), TOKYO, utc(2026, 11, 27, 15)),
    (utc(2026, 11, 27, 23, 30), TOKYO, utc(2026, 11, 28, 15)),  # 08:30 on the 28th there
    (utc(2026, 11, 27, 12), UTC, utc(2026, 11, 28)),
    (utc(2026, 11, 27, 12), timezone(timedelta(hours=5, minutes=30)), utc(2026, 11, 27, 18, 30)),
    (utc(2026, 11, 27, 12), timezone(-timedelta(hours=7)), utc(2026, 11, 28, 7)),
])
def test_the_day_ends_at_the_next_local_midnight(at: datetime, zone: timezone | ZoneInfo,
                                                 end: datetime) -> None:
    assert end_of_day(at, zone) == end
    assert end_of_day(at, zone).tzinfo == UTC


def test_a_day_the_clocks_spring_forward_is_23_hours_long() -> None:
    # 8 March 2026, Los Angeles: 02:00 PST becomes 03:00 PDT. At 01:00 PST (09:00 UTC) the
    # day ends at midnight PDT, 07:00 UTC: an offset read that morning (-8 h) would say
    # 08:00 UTC, an hour longer than the reviewer's day.
    assert end_of_day(utc(2026, 3, 8, 9), LA) == utc(2026, 3, 9, 7)
    assert end_of_day(utc(2026, 3, 8, 9), timezone(-timedelta(hours=8))) == utc(2026, 3, 9, 8)
    start = utc(2026, 3, 8, 8)  # 00:00 PST
    assert end_of_day(start, LA) - start == timedelta(hours=23)
    assert end_of_day(start - timedelta(minutes=1), LA) == start  # 23:59 on the 7th


def test_a_day_the_clocks_fall_back_is_25_hours_long() -> None:
    # 1 November 2026, Los Angeles: 02:00 PDT becomes 01:00 PST.
    start = utc(2026, 11, 1, 7)  # 00:00 PDT
    assert end_of_day(start, LA) == utc(2026, 11, 2, 8)
    assert end_of_day(start, LA) - start == timedelta(hours=25)
    # During the repeated hour (01:30 PST, the second time round) it is the same day.
    assert end_of_day(utc(2026, 11, 1, 9, 30), LA) == utc(2026, 11, 2, 8)


def test_where_midnight_never_comes_the_day_ends_when_the_clocks_jump() -> None:
    santiago = ZoneInfo("America/Santiago")
    # 5 September 2026 ends at 24:00 -04, when the clocks jump to 01:00 -03 on the 6th.
    assert end_of_day(utc(2026, 9, 5, 20), santiago) == utc(2026, 9, 6, 4)
    # 4 April 2026: 24:00 -03 falls back to 23:00 -04, so the day ends an hour later.
    assert end_of_day(utc(2026, 4, 4, 20), santiago) == utc(2026, 4, 5, 4)
    assert end_of_day(utc(2026, 4, 5, 3, 30), santiago) == utc(2026, 4, 5, 4)  # 23:30 again
