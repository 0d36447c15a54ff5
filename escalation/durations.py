"""Human-written durations: ``30s``, ``10m``, ``2h``, ``1d`` and combinations like ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_ORDER = "dhms"
_SHAPE = re.compile(r"(?:\d+[dhms])+")
_PART = re.compile(r"(\d+)([dhms])")
_MAX = timedelta(days=1000)

DURATION_PATTERN = r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"
DURATION_FIX = "write a whole number and a unit (s, m, h, d), e.g. 30s, 10m, 2h, 1d or 1h30m"


class DurationError(ValueError):
    """A duration string signoff cannot read. ``fix`` says how to write it."""

    def __init__(self, message: str, fix: str = DURATION_FIX) -> None:
        super().__init__(f"{message}; {fix}")
        self.message = message
        self.fix = fix


def parse_duration(text: str) -> timedelta:
    """Parse ``30s``, ``10m``, ``2h``, ``1d`` or ``1h30m`` (units largest first, each once).

    The result is always positive: a zero delay or deadline is a mistake in a config file.
    """
    spec = text.strip().lower()
    if not _SHAPE.fullmatch(spec):
        raise DurationError(f"{text!r} is not a duration")
    parts = _PART.findall(spec)
    units = "".join(unit for _, unit in parts)
    if units != "".join(u for u in _ORDER if u in units):
        raise DurationError(
            f"{text!r} repeats a unit or lists units out of order",
            "write each unit once, largest first, e.g. 1d2h or 1h30m",
        )
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in parts)
    if seconds <= 0:
        raise DurationError(f"{text!r} is zero", "use a positive duration, e.g. 30s")
    if seconds > _MAX.total_seconds():
        raise DurationError(f"{text!r} is longer than 1000 days", "use a shorter duration")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest spelling :func:`parse_duration` reads back: ``1h30m``, ``2d``, ``45s``."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    out = []
    for unit in _ORDER:
        count, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def _validate(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise PydanticCustomError(
                "signoff", "{message}",
                {"message": "duration must be positive", "fix": DURATION_FIX},
            )
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise PydanticCustomError(
            "signoff",
            "{message}",
            {"message": f"expected a duration with a unit, got {value!r}", "fix": DURATION_FIX},
        )
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise PydanticCustomError(
            "signoff", "{message}", {"message": exc.message, "fix": exc.fix}
        ) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration: 30s, 10m, 2h, 1d, or combined largest first (1h30m).",
            "examples": ["30s", "10m", "2h", "1d", "1h30m"],
        }
    ),
]
"""A positive :class:`~datetime.timedelta` written as ``30s``/``10m``/``2h``/``1d``/``1h30m``."""
