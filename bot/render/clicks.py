"""What a reviewer is told when a decision click could not count (the click inbox)."""

from __future__ import annotations

from datetime import timedelta

from store.models import DecisionKind

_WHAT = {
    DecisionKind.APPROVE: "approval",
    DecisionKind.EDIT: "edit",
    DecisionKind.REJECT: "rejection",
    DecisionKind.REQUEST_INFO: "question",
    DecisionKind.TAKE_OVER: "take-over",
}


def _what(kind: DecisionKind) -> str:
    return _WHAT.get(kind, "decision")


def render_click_unrecorded(kind: DecisionKind) -> str:
    """The click could not even be written down before its ack."""
    return (f"Your {_what(kind)} did not count: signoff could not record it (its database "
            "did not answer in time). Nothing changed; please try again in a moment.")


def render_click_too_old(kind: DecisionKind, max_age: timedelta) -> str:
    """The click was written down but could not be decided in time (the database failed)."""
    minutes = max(1, round(max_age.total_seconds() / 60))
    return (f"Your {_what(kind)} did not count: signoff could not record it within "
            f"{minutes} minute{'s' if minutes != 1 else ''} (its database was unavailable). "
            "Nothing changed; look at the request again and decide once more.")


def render_click_field_error() -> str:
    """A modal submission that could not be written down: shown under the modal's field."""
    return ("signoff could not record this (its database did not answer in time); nothing "
            "changed. Submit again in a moment.")
