"""A user's time zone as Slack's user object carries it: ``tz`` (the IANA name from their
profile), ``tz_label`` (its long name) and ``tz_offset`` (seconds east of UTC).

Slack reports the label and offset in force *now*: a user in ``America/Los_Angeles`` reads
``Pacific Standard Time`` / ``-28800`` in winter and ``Pacific Daylight Time`` / ``-25200``
in summer. The sandbox derives both from its clock the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Slack's long labels for some zones, standard time then daylight time. Zones not listed
#: are labelled with their abbreviation (``JST``, ``-03``): see docs/sandbox.md.
_LABELS: dict[str, tuple[str, str]] = {
    "UTC": ("Coordinated Universal Time", "Coordinated Universal Time"),
    "America/Los_Angeles": ("Pacific Standard Time", "Pacific Daylight Time"),
    "America/Denver": ("Mountain Standard Time", "Mountain Daylight Time"),
    "America/Chicago": ("Central Standard Time", "Central Daylight Time"),
    "America/New_York": ("Eastern Standard Time", "Eastern Daylight Time"),
    "Europe/London": ("Greenwich Mean Time", "British Summer Time"),
    "Europe/Paris": ("Central European Time", "Central European Summer Time"),
    "Europe/Berlin": ("Central European Time", "Central European Summer Time"),
    "Europe/Amsterdam": ("Central European Time", "Central European Summer Time"),
    "Asia/Kolkata": ("India Standard Time", "India Standard Time"),
    "Asia/Tokyo": ("Japan Standard Time", "Japan Standard Time"),
    "Australia/Sydney": ("Australian Eastern Standard Time",
                         "Australian Eastern Daylight Time"),
}


def known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone_fields(tz: str | None, at: float, *, label: str | None = None,
                offset: int | None = None) -> dict[str, object]:
    """``tz``, ``tz_label`` and ``tz_offset`` at the instant ``at`` (epoch seconds); an
    explicit ``label``/``offset`` wins (a user whose zone Python does not know, or none)."""
    if tz is not None and known_zone(tz):
        local = datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(tz))
        shift = local.utcoffset()
        daylight = bool(local.dst())
        names = _LABELS.get(tz)
        derived_label = names[daylight] if names else (local.tzname() or tz)
        derived_offset = int(shift.total_seconds()) if shift is not None else 0
    else:
        derived_label, derived_offset = "Coordinated Universal Time", 0
    return {"tz": tz,
            "tz_label": derived_label if label is None else label,
            "tz_offset": derived_offset if offset is None else offset}
