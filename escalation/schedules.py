"""On-call schedules modelled on PagerDuty's: layers of rotations, restrictions, overrides.

Who is on call at an instant:

1. An **override** covering the instant wins (the last one listed, when several do).
2. Otherwise the **layers** are consulted from the last listed to the first: a later layer
   covers an earlier one wherever it has somebody on call (PagerDuty's "Layer 2" over
   "Layer 1").
3. A layer has somebody on call when the instant is within ``[start, end)`` and inside one
   of its **restrictions** (a layer without restrictions is always on). The person is the
   one whose **turn** it is: turns of ``turn`` length follow one another from
   ``rotation_start`` through ``users`` in order, whether or not a restriction hides them
   (as in PagerDuty, a restriction masks time; it does not pause the rotation).

Time zones. Turns and restriction windows are laid out on the schedule's **wall clock**, so
a 09:00 handoff stays at 09:00 local across daylight-saving changes and a 09:00-17:00
daily restriction stays 09:00-17:00. A wall time that does not exist (the spring-forward
gap) happens when the clocks jump, i.e. it moves later by the gap (02:30 → 03:30 in New
York); a wall time that occurs twice (fall-back) happens at its first occurrence. A turn
that spans a change is therefore an hour shorter or longer in real time.

Date-times written without an offset are read in the schedule's time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from escalation.durations import Duration

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEK = timedelta(days=7)


def _error(message: str, fix: str) -> PydanticCustomError:
    return PydanticCustomError("signoff", "{message}", {"message": message, "fix": fix})


def _day_number(value: Any) -> Any:
    """``monday``/``mon``/``1`` → 1 … ``sunday``/``7`` → 7 (ISO, as PagerDuty)."""
    if isinstance(value, str) and not value.isdigit():
        text = value.strip().lower()
        for number, name in enumerate(_DAYS, start=1):
            if len(text) >= 3 and name.startswith(text):
                return number
        raise _error(f"{value!r} is not a day of the week", "write monday … sunday, or 1 … 7")
    return value


def _time_of_day(value: Any) -> Any:
    """``"09:00"``, ``"09:00:00"``; YAML's sexagesimal ints (``09:00`` → 540) too."""
    if isinstance(value, int) and not isinstance(value, bool):
        return time(value // 60 % 24, value % 60)
    return value


DayOfWeek = Annotated[int, BeforeValidator(_day_number), Field(ge=1, le=7)]
TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Restriction(_Strict):
    """When a layer may have somebody on call: a daily or weekly window of wall time."""

    type: Literal["daily", "weekly"]
    start: TimeOfDay
    duration: Duration
    day: DayOfWeek | None = None
    """Weekly windows only: the day the window starts (monday … sunday)."""

    @model_validator(mode="after")
    def _check(self) -> Restriction:
        limit = timedelta(days=1) if self.type == "daily" else _WEEK
        if self.duration > limit:
            raise _error(f"a {self.type} restriction lasts at most {limit.days} day(s)",
                         "shorten duration, or use a weekly restriction")
        if self.type == "weekly" and self.day is None:
            raise _error("a weekly restriction needs day", "add e.g. day: monday")
        if self.type == "daily" and self.day is not None:
            raise _error("a daily restriction has no day", "remove day, or use type: weekly")
        return self


class Layer(_Strict):
    """One rotation: ``users`` take turns of ``turn`` from ``rotation_start``."""

    name: str | None = None
    start: datetime
    end: datetime | None = None
    rotation_start: datetime | None = None
    """The instant the first user's first turn begins (defaults to ``start``)."""
    turn: Duration
    users: tuple[str, ...] = Field(min_length=1)
    restrictions: tuple[Restriction, ...] = ()


class Override(_Strict):
    """``user`` is on call from ``start`` to ``end``, whatever the layers say."""

    start: datetime
    end: datetime
    user: str

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if self.end <= self.start:
            raise _error("an override must end after it starts", "check start and end")
        return self


class Schedule(_Strict):
    """An on-call schedule in one time zone."""

    time_zone: str = "UTC"
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()

    @model_validator(mode="after")
    def _zone_exists(self) -> Schedule:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise _error(f"unknown time zone {self.time_zone!r}",
                         "use an IANA name such as Europe/Berlin or America/New_York") from None
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def on_call(self, at: datetime) -> str | None:
        """The user on call at ``at`` (an aware instant), or None when nobody is."""
        _require_aware(at)
        zone = self.zone
        for override in reversed(self.overrides):
            if _instant(override.start, zone) <= at < _instant(override.end, zone):
                return override.user
        for layer in reversed(self.layers):
            user = layer_on_call(layer, at, zone)
            if user is not None:
                return user
        return None

    def users(self) -> tuple[str, ...]:
        """Everybody the schedule can name, in first-seen order."""
        seen: dict[str, None] = {}
        for layer in self.layers:
            seen.update(dict.fromkeys(layer.users))
        seen.update(dict.fromkeys(o.user for o in self.overrides))
        return tuple(seen)


def layer_on_call(layer: Layer, at: datetime, zone: tzinfo) -> str | None:
    if at < _instant(layer.start, zone):
        return None
    if layer.end is not None and at >= _instant(layer.end, zone):
        return None
    if layer.restrictions and not any(_inside(r, at, zone) for r in layer.restrictions):
        return None
    origin = _wall(layer.rotation_start or layer.start, zone)
    turn = _turn_number(origin, layer.turn, at, zone)
    return layer.users[turn % len(layer.users)]


def _turn_number(origin: datetime, turn: timedelta, at: datetime, zone: tzinfo) -> int:
    """The number of the turn running at ``at``: turns begin at ``origin + k * turn`` (wall)."""

    def begins(k: int) -> datetime:
        return wall_to_instant(origin + k * turn, zone)

    k = (_wall(at, zone) - origin) // turn
    for _ in range(4):  # the wall-clock estimate is off by at most one turn around a change
        if begins(k + 1) <= at:
            k += 1
        elif begins(k) > at:
            k -= 1
        else:
            break
    return k


def _inside(restriction: Restriction, at: datetime, zone: tzinfo) -> bool:
    today = _wall(at, zone).date()
    if restriction.type == "daily":
        firsts = [today - timedelta(days=n) for n in (0, 1)]
    else:
        assert restriction.day is not None
        this_week = today - timedelta(days=today.isoweekday() - restriction.day)
        firsts = [this_week - _WEEK * n for n in (0, 1, 2)]
    return any(_window_contains(d, restriction, at, zone) for d in firsts)


def _window_contains(day: date, restriction: Restriction, at: datetime, zone: tzinfo) -> bool:
    opens = datetime.combine(day, restriction.start)
    return (wall_to_instant(opens, zone) <= at
            < wall_to_instant(opens + restriction.duration, zone))


def wall_to_instant(wall: datetime, zone: tzinfo) -> datetime:
    """The instant a naive wall-clock time happens in ``zone`` (gaps move later by the gap,
    repeated times take their first occurrence)."""
    # fold=0 is the first of a repeated time; in a gap it applies the offset from before
    # the jump, which lands the gap's length later.
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _wall(value: datetime, zone: tzinfo) -> datetime:
    """``value`` as naive wall time in ``zone`` (naive values already are)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(zone).replace(tzinfo=None)


def _instant(value: datetime, zone: tzinfo) -> datetime:
    """``value`` as an aware UTC instant (naive values are wall times in ``zone``)."""
    if value.tzinfo is None:
        return wall_to_instant(value, zone)
    return value.astimezone(UTC)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("schedules answer for aware instants only (got a naive datetime)")
