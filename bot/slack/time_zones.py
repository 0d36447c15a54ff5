"""A reviewer's time zone, as Slack's ``users.info`` tells it.

The IANA name of their profile (``user.tz``) comes first: it knows daylight saving time.
Without a usable one, the ``tz_offset`` Slack reports (seconds east of UTC, the offset in
force when asked) stands as a fixed offset. Without either, or when Slack cannot be asked,
UTC, and the zone says it is a fallback so the form can tell the reviewer.

Answers are cached per user for a minute (as user groups are, ``bot/slack/authz.py``): a
reviewer who opens several grant forms in a row costs one call. Failures are not cached.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta, timezone, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render.grant import ZONE_FROM_OFFSET, ZONE_FROM_TZ, ZONE_UNREAD
from bot.slack.ttl_cache import TtlCache

log = logging.getLogger(__name__)

ZONE_CACHE_S = 60.0
SLACK_TZ: Final = ZONE_FROM_TZ
SLACK_OFFSET: Final = ZONE_FROM_OFFSET
UNREAD: Final = ZONE_UNREAD
_MAX_OFFSET_S = 14 * 3600  # the furthest any zone is from UTC (Pacific/Kiritimati)
_OFFSET_NAME = re.compile(r"UTC([+-])(\d\d):(\d\d)")


@dataclass(frozen=True)
class Zone:
    name: str
    """An IANA name (``America/Los_Angeles``), a fixed offset (``UTC-07:00``) or ``UTC``."""
    source: str = UNREAD
    """:data:`SLACK_TZ`, :data:`SLACK_OFFSET` or :data:`UNREAD`."""

    @property
    def tz(self) -> tzinfo:
        found = _tzinfo(self.name)
        return found if found is not None else UTC


FALLBACK = Zone("UTC", UNREAD)


def zone_of_user(user: Mapping[str, Any]) -> Zone:
    """The zone of a ``users.info`` user object: its ``tz``, else its ``tz_offset``, else
    the UTC fallback."""
    name = user.get("tz")
    if isinstance(name, str) and _iana(name) is not None:
        return Zone(name, SLACK_TZ)
    offset = user.get("tz_offset")
    if isinstance(offset, int) and not isinstance(offset, bool) and \
            abs(offset) <= _MAX_OFFSET_S and offset % 60 == 0:
        return Zone(offset_name(offset), SLACK_OFFSET)
    return FALLBACK


def zone_named(name: str | None, source: str | None) -> Zone:
    """A zone a form carried back (its ``private_metadata``). Anything unreadable, or none
    at all (a form from before time zones, which said UTC), is the UTC fallback."""
    if name is not None and source in (SLACK_TZ, SLACK_OFFSET) and _tzinfo(name) is not None:
        return Zone(name, source)
    return FALLBACK


def offset_name(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


class TimeZones:
    """Reviewers' zones from ``users.info``, briefly cached. Never raises: a failed lookup
    is the UTC fallback, which the form names, so the reviewer chooses knowing whose
    midnight "end of day" is."""

    def __init__(self, slack: WebClient, *, ttl: float = ZONE_CACHE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._slack = slack
        self._zones: TtlCache[Zone] = TtlCache(ttl, clock)

    def lookup(self, user: str) -> Zone:
        now = self._zones.clock()
        hit = self._zones.get(user, now)
        if hit is not None:
            return hit
        try:
            info = self._slack.users_info(user=user).get("user") or {}
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.info("time zone of %s not read (%s): using UTC", user, exc)
            return FALLBACK
        zone = zone_of_user(info)
        self._zones.put(user, zone, now)
        return zone


def _iana(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _tzinfo(name: str) -> tzinfo | None:
    found = _OFFSET_NAME.fullmatch(name)
    if found is None:
        return _iana(name)
    sign, hours, minutes = found.groups()
    shift = timedelta(hours=int(hours), minutes=int(minutes))
    if shift > timedelta(seconds=_MAX_OFFSET_S) or int(minutes) >= 60:
        return None
    return timezone(-shift if sign == "-" else shift)
