"""What people read about delegation and fallback approvers (refusals, DM notes, the CLI)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from bot.render.blocks import (
    PLACEHOLDER_TEXT,
    Block,
    View,
    actions,
    block_id,
    button,
    confirm,
    header,
    input_block,
    modal,
    pt,
    section,
    text_input,
)
from bot.render.grant import ZONE_UNREAD, zone_metadata, zone_phrase
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


def delegation_ended(principal: str | None) -> str:
    """The delegation a click relied on was revoked or ran out before it was recorded."""
    whose = (f"the delegation from {mention(principal)} you decided with" if principal
             else "a delegation your authority here relied on")
    return (f"Nothing was recorded: {whose} was revoked or ended before your decision could "
            "be recorded, so you can't decide this request with it any more.")


BATCH_NEEDS_OWN_RIGHT = ("You may decide these requests only through a delegation (or as a "
                         "fallback approver), and such decisions are made one request at a "
                         "time, so nothing was decided. Open each request to decide it.")


def delegated_dm_note(principal: str, until: datetime) -> str:
    """Above a DM sent to a delegate instead of the person the chain named."""
    return (f"You receive this for {mention(principal)}, who delegated their reviews to you "
            f"until {slack_date(until)}. A decision you make records both of you.")


FALLBACK_DM_NOTE = ("You receive this as a fallback approver: every approver of this route is "
                    "away (delegated or deactivated), so you may decide it.")


# -- App Home: "Out of office" ----------------------------------------------------------------

ACTION_DELEGATE_OPEN = "signoff_delegate_open"
ACTION_DELEGATE_REVOKE = "signoff_delegate_revoke"
CALLBACK_DELEGATE = "signoff_delegate_modal"
DELEGATE_TO_BLOCK, DELEGATE_TO_ACTION = "signoff_delegate_to", "signoff_delegate_to_value"
DELEGATE_UNTIL_BLOCK = "signoff_delegate_until"
DELEGATE_UNTIL_ACTION = "signoff_delegate_until_value"
DELEGATE_REASON_BLOCK = "signoff_delegate_reason"
DELEGATE_REASON_ACTION = "signoff_delegate_reason_value"
MISSING_DELEGATE = "Choose who decides for you while you are away."
MISSING_UNTIL = "Choose the day you are back."


class Lent(Protocol):
    """A delegation as App Home shows it."""

    @property
    def id(self) -> int: ...
    @property
    def principal(self) -> str: ...
    @property
    def delegate(self) -> str: ...
    @property
    def ends_at(self) -> datetime: ...


def render_delegation_blocks(user: str, given: Sequence[Lent],
                             held: Sequence[Lent]) -> list[Block]:
    """The Home tab's out-of-office section: whom ``user`` delegates to (with Revoke), for
    whom they decide, and the button that opens the delegation form."""
    blocks: list[Block] = [header("signoff_ooo_header", "Out of office")]
    for d in given:
        blocks.append(section(
            block_id("signoff_ooo_given:", str(d.id)),
            f"🌴 {mention(d.delegate)} decides for you until {slack_date(d.ends_at)}; their "
            "decisions record both of you.",
            accessory=button("Revoke", ACTION_DELEGATE_REVOKE, str(d.id), confirm_dialog=confirm(
                "Revoke delegation?", "They stop deciding for you at once.", "Revoke"))))
    for d in held:
        blocks.append(section(
            block_id("signoff_ooo_held:", str(d.id)),
            f"🤝 You decide for {mention(d.principal)} until {slack_date(d.ends_at)} "
            "(never their own requests, and never as a second approver beside them)."))
    if not given:
        blocks.append(actions("signoff_ooo_actions", [
            button("Delegate my reviews", ACTION_DELEGATE_OPEN, "open")]))
    return blocks


def back_on_hint(zone: str, how: str) -> str:
    """When the delegation ends: the start of the day back, in the reviewer's zone."""
    return (f"The delegation ends at 00:00 ({zone_phrase(zone, how)}) that day, at most 90 "
            "days ahead.")


def render_delegate_modal(today: date, *, zone: str = "UTC", how: str = ZONE_UNREAD) -> View:
    """Choose a delegate and the day one is back: the delegation ends as that day starts in
    ``zone`` (found as ``how`` says), which the form carries back. ``today``: in ``zone``."""
    first = (today + timedelta(days=1)).isoformat()
    return modal(CALLBACK_DELEGATE, "Delegate reviews", [
        section("signoff_delegate_intro",
                "While you are away, the person you choose may decide what you could. Their "
                "decisions record both of you; they never approve your requests or their own, "
                "and never count as a second approver beside you."),
        input_block(DELEGATE_TO_BLOCK, "Who decides for you",
                    {"type": "users_select", "action_id": DELEGATE_TO_ACTION,
                     "placeholder": pt("Choose a person", PLACEHOLDER_TEXT)}),
        input_block(DELEGATE_UNTIL_BLOCK, "Back on",
                    {"type": "datepicker", "action_id": DELEGATE_UNTIL_ACTION,
                     "initial_date": first},
                    hint=back_on_hint(zone, how)),
        input_block(DELEGATE_REASON_BLOCK, "Note (optional)",
                    text_input(DELEGATE_REASON_ACTION, max_length=200,
                               placeholder="e.g. holiday"), optional=True),
    ], submit="Delegate", metadata=json.dumps(zone_metadata(zone, how)))


def parse_delegate_submission(values: Mapping[str, Any]
                              ) -> tuple[str | None, date | None, str | None]:
    """The delegate, the day back and the note from a submitted form (None when missing or
    unreadable)."""
    to = (values.get(DELEGATE_TO_BLOCK, {}).get(DELEGATE_TO_ACTION) or {}).get("selected_user")
    raw = (values.get(DELEGATE_UNTIL_BLOCK, {}).get(DELEGATE_UNTIL_ACTION) or {}).get(
        "selected_date")
    try:
        back = date.fromisoformat(raw) if raw else None
    except ValueError:
        back = None
    note = (values.get(DELEGATE_REASON_BLOCK, {}).get(DELEGATE_REASON_ACTION) or {}).get("value")
    return to or None, back, (note or "").strip() or None
