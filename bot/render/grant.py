"""Standing grants as reviewers see them: the form that shows what "similar" means before
anything is granted, the thread lines about a grant and its uses, and the App Home list.

Pure: the Slack layer turns ``store.grants.Grant`` into :class:`GrantView` first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from bot.render.blocks import (
    Block,
    Message,
    View,
    actions,
    button,
    context,
    header,
    input_block,
    message,
    modal,
    option,
    section,
)
from bot.render.ids import ACTION_GRANT
from bot.render.modals import encode_private_metadata
from bot.render.parts import CardContext, tier_label
from bot.render.text import code_inline, duration, esc, mention, slack_date
from bot.render.values import MASK, inline
from store.models import Ticket

ACTION_REVOKE_GRANT: Final = "signoff_revoke_grant"
"""App Home's "Revoke" button (its value: the grant id)."""
CALLBACK_GRANT: Final = "signoff_grant_modal"
SPAN_BLOCK: Final = "signoff_grant_span"
SPAN_ACTION: Final = "signoff_grant_span_value"
USES_BLOCK: Final = "signoff_grant_uses"
USES_ACTION: Final = "signoff_grant_uses_value"
DEFAULT_USES = 10
NO_FALLBACK_GRANT = ("No standing grant: you may decide this request only as a fallback "
                     "approver, while every approver is away, and that does not extend to "
                     "future requests.")
ZONE_FROM_TZ: Final = "tz"
"""The end of day is in the IANA time zone of the reviewer's Slack profile."""
ZONE_FROM_OFFSET: Final = "offset"
"""... in the fixed UTC offset Slack reported for them (no zone name it could use)."""
ZONE_UNREAD: Final = "unread"
"""... in UTC, because the reviewer's time zone could not be read."""


@dataclass(frozen=True)
class GrantView:
    """One grant as App Home and the CLI show it."""

    id: str
    action: str
    requested_by: str
    granted_by: str
    expires_at: datetime
    uses: int
    max_uses: int
    state: str
    """active, expired, used up or revoked."""
    bounds: tuple[str, ...]


def bound_text(ticket: Ticket, name: str, kind: str, value: object) -> str:
    """One argument's bound as a reviewer reads it (``kind``: max, domain or equals);
    a secret argument's value stays masked."""
    red = CardContext.build(ticket).red
    label = esc(name, 60)
    if kind == "max":
        return f"{label} ≤ {esc(str(value), 40)} (and not negative)"
    if kind == "domain":
        return f"{label}: an address at {esc(str(value), 200)}"
    shown = MASK if red.is_secret(name) else inline(red.value(value), 120)[0]
    return f"{label} = {shown} (exactly)"


def similar_lines(ticket: Ticket, bounds: Sequence[str]) -> list[str]:
    """What "similar" means for a grant on ``ticket``, one condition a line."""
    who = f"agent {code_inline(ticket.agent, 100)}" if ticket.agent else "no named agent"
    return [f"• action {code_inline(ticket.action, 200)}, {who}, "
            f"for {mention(ticket.requested_by)}, on route *{esc(ticket.route.name, 100)}*",
            *[f"• {line}" for line in bounds]]


def zone_phrase(zone: str, how: str) -> str:
    """Whose clock a time is on, as a form says it: the zone's name, the Slack offset, or
    UTC and why."""
    if how == ZONE_FROM_TZ:
        return zone
    if how == ZONE_FROM_OFFSET:
        return f"{zone}, your Slack offset"
    return "UTC: your Slack time zone could not be read"


def zone_metadata(zone: str, how: str) -> dict[str, str]:
    """The zone a form was opened with, for its ``private_metadata`` (read back with
    :func:`zone_of_metadata`)."""
    return {"z": zone, "zs": how}


def eod_option(zone: str, how: str) -> str:
    """The "until end of day" choice, naming whose midnight it is."""
    return f"until end of day (23:59 {zone_phrase(zone, how)})"


def eod_too_soon(zone: str, left: timedelta) -> str:
    """Under the duration choice when the reviewer's day is about to end."""
    return (f"Your day ends in {duration(left)} (midnight {zone}): too soon for a grant. "
            "Choose 30 min or 2 h, or use Approve alone.")


def zone_of_metadata(text: str) -> tuple[str | None, str | None]:
    """The time zone (name, how it was found) a grant form was opened with."""
    try:
        data = json.loads(text or "null")
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    name, how = data.get("z"), data.get("zs")
    return (name if isinstance(name, str) else None), (how if isinstance(how, str) else None)


def render_grant_modal(ticket: Ticket, bounds: Sequence[str], spans: dict[str, str], *,
                       origin: tuple[str, str] | None = None, zone: str = "UTC",
                       how: str = ZONE_UNREAD) -> View:
    """Approve this request and grant similar ones: the conditions shown before confirming.
    End of day is midnight in ``zone`` (found as ``how`` says); the form carries it back."""
    lines = "\n".join(similar_lines(ticket, bounds))
    spans = {**spans, "eod": eod_option(zone, how)} if "eod" in spans else spans
    blocks: list[Block] = [
        context("signoff_modal_about", [
            f"{tier_label(ticket)} · *{esc(ticket.action, 200)}* · ticket "
            f"{code_inline(ticket.id, 300)}"]),
        section("signoff_grant_intro",
                "*Approve this request now, and let similar requests run without a card "
                "for a while.* Similar means all of these:\n" + lines),
        input_block(SPAN_BLOCK, "For how long", {
            "type": "radio_buttons", "action_id": SPAN_ACTION,
            "options": [option(text, value) for value, text in spans.items()],
        }),
        input_block(USES_BLOCK, "At most this many requests", {
            "type": "number_input", "action_id": USES_ACTION, "is_decimal_allowed": False,
            "initial_value": str(DEFAULT_USES), "min_value": "1", "max_value": "100",
        }, hint="Each one is posted in this card's thread. Revoke any time from App Home "
                "or with `signoff grants revoke`."),
    ]
    meta = {**json.loads(encode_private_metadata(ticket, origin)), **zone_metadata(zone, how)}
    return modal(CALLBACK_GRANT, "Approve + similar", blocks, submit="Approve and grant",
                 metadata=json.dumps(meta, separators=(",", ":"), ensure_ascii=False))


def render_grant_created(ticket: Ticket, grant_id: str, granter: str, expires_at: datetime,
                         max_uses: int, bounds: Sequence[str], zone: str | None = None,
                         on_behalf_of: str | None = None) -> Message:
    """The thread line that says a grant now covers similar requests (``zone``: an
    end-of-day grant's time zone; ``on_behalf_of``: a delegate's grant's principal)."""
    until = (f"the end of the day in {esc(zone, 64)} ({slack_date(expires_at)})" if zone
             else slack_date(expires_at))
    who = mention(granter) + (f" (on behalf of {mention(on_behalf_of)}, while their "
                              "delegation lasts)" if on_behalf_of else "")
    text = (f"🔁 {who} approved this and granted similar requests until "
            f"{until}, at most {max_uses} (grant "
            f"{code_inline(grant_id, 40)}):\n" + "\n".join(similar_lines(ticket, bounds)))
    return message(f"Standing grant {grant_id} by {granter}",
                   [section("signoff_grant_created", text)])


def render_grant_use(ticket: Ticket, grant_id: str, note: str) -> Message:
    """The compact line for a request a grant approved (no card); secrets stay masked."""
    red = CardContext.build(ticket).red
    args_line = ", ".join(f"{esc(k, 60)}={inline(red.arg(k, v), 80)[0]}"
                          for k, v in list(ticket.final_args.items())[:8])
    text = (f"✅ {code_inline(ticket.action, 200)} {args_line} for "
            f"{mention(ticket.requested_by)}: {esc(note, 400)} · ticket "
            f"{code_inline(ticket.id, 40)}")
    return message(f"Approved by standing grant {grant_id}", [
        context("signoff_grant_use", [text])])


def render_grant_home(grants: Sequence[GrantView]) -> list[Block]:
    """App Home's "Your standing grants": each active one with a Revoke button."""
    active = [g for g in grants if g.state == "active"]
    if not active:
        return []
    blocks: list[Block] = [header("signoff_home_grants", "Your standing grants")]
    for g in active[:10]:
        text = (f"*{esc(g.action, 200)}* for {mention(g.requested_by)} · "
                f"{g.uses} of {g.max_uses} used · until {slack_date(g.expires_at)}\n"
                + "\n".join(f"• {esc(b, 200)}" for b in g.bounds))
        blocks.append(section(f"signoff_home_grant:{g.id}", text))
        blocks.append(actions(f"signoff_home_grant_actions:{g.id}", [
            button("Revoke", ACTION_REVOKE_GRANT, g.id, style="danger")]))
    return blocks


__all__ = [
    "ACTION_GRANT",
    "ACTION_REVOKE_GRANT",
    "CALLBACK_GRANT",
    "NO_FALLBACK_GRANT",
    "GrantView",
    "eod_option",
    "eod_too_soon",
    "render_grant_created",
    "render_grant_home",
    "render_grant_modal",
    "render_grant_revoked",
    "render_grant_use",
    "similar_lines",
    "zone_metadata",
    "zone_of_metadata",
    "zone_phrase",
]


def render_grant_revoked(grant_id: str, by: str, uses: int, max_uses: int) -> Message:
    """The thread line that says a grant stopped (``by``: a user id, or who ran the CLI)."""
    who = mention(by) if by[:1] in ("U", "W") and by.isalnum() else esc(by, 100)
    text = (f"🛑 {who} revoked standing grant {code_inline(grant_id, 40)} after {uses} of "
            f"{max_uses} uses: it approves nothing from now on.")
    return message(f"Standing grant {grant_id} revoked", [section("signoff_grant_revoked",
                                                                  text)])
