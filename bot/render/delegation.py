"""What people read about delegation and fallback approvers (refusals, DM notes, the CLI)."""

from __future__ import annotations

from datetime import datetime

from bot.render.text import mention, slack_date


def own_request_through(requester: str) -> str:
    """A delegation makes the clicker one person with the requester."""
    return (f"You can't approve this request: it was made on behalf of {mention(requester)}, "
            "and a delegation between you makes you one person for approvals. Another "
            "reviewer has to decide it.")


def same_person_twice(approver: str) -> str:
    """The clicker and an approver already counted are linked by a delegation."""
    return (f"{mention(approver)} already approved this request, and a delegation between "
            "you makes you one person for approvals: it needs another, different approver.")


def delegated_dm_note(principal: str, until: datetime) -> str:
    """Above a DM sent to a delegate instead of the person the chain named."""
    return (f"You receive this for {mention(principal)}, who delegated their reviews to you "
            f"until {slack_date(until)}. A decision you make records both of you.")


FALLBACK_DM_NOTE = ("You receive this as a fallback approver: every approver of this route is "
                    "away (delegated or deactivated), so you may decide it.")
