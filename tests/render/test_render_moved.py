"""The card left behind when an edit moves a request to another route, and its thread notes."""

from __future__ import annotations

import re
from typing import Any

from bot.render.moved import (
    BLOCK_MOVED,
    channel_link,
    needs_line,
    render_moved_away_note,
    render_moved_card,
    render_moved_here_note,
)
from store.models import RiskTier, Route, Ticket
from tests.render.render_checks import (
    assert_fits_message,
    block,
    buttons,
    everything,
    make_ticket,
    text_of,
)

FINANCE = Route(name="finance", channel="C0FINANCE", approvers=("U0CFO", "S0LEADS"))
_CHANNEL_TOKEN = re.compile(r"<#C[A-Z0-9]+>")


def moved_ticket(**overrides: Any) -> Ticket:
    fields: dict[str, Any] = {
        "args": {"customer_id": "cus_123", "amount": 120},
        "final_args": {"customer_id": "cus_123", "amount": 5000},
        "tier": RiskTier.CRITICAL, "route": FINANCE, "policy_rule": "large refunds",
    }
    return make_ticket(**{**fields, **overrides})


def assert_fits(message: Any) -> None:
    """The shared checks; channel links are the one token they do not know, so they go first."""
    text = _CHANNEL_TOKEN.sub("#finance", message["text"])
    blocks = [_strip_channels(b) for b in message["blocks"]]
    assert_fits_message({"text": text, "blocks": blocks})


def _strip_channels(value: Any) -> Any:
    if isinstance(value, str):
        return _CHANNEL_TOKEN.sub("#finance", value)
    if isinstance(value, dict):
        return {k: _strip_channels(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_channels(v) for v in value]
    return value


def test_moved_card_says_where_why_and_who_and_has_no_buttons() -> None:
    message = render_moved_card(moved_ticket(), "U0FINOPS")
    assert_fits(message)
    assert buttons(message["blocks"]) == []
    assert not any(b["type"] == "actions" for b in message["blocks"])
    line = text_of(block(message["blocks"], BLOCK_MOVED))
    assert line.startswith("➡️ *Moved to <#C0FINANCE>* for ")
    for part in ("critical", "<@U0FINOPS>'s edit", "`large refunds`", "route *finance*",
                 "needs approval by one of <@U0CFO>, <!subteam^S0LEADS>"):
        assert part in line, part
    changes = text_of(block(message["blocks"], "signoff_diff"))
    assert "`120` → `5000`" in changes
    assert message["text"].startswith("Moved to <#C0FINANCE>: issue_refund needs approval")


def test_needs_line_counts_distinct_approvers_and_names_an_empty_route() -> None:
    two = Route(name="finance", channel="C0FINANCE", approvers=("U0CFO", "U0TREASURER"),
                approvals_required=2)
    assert needs_line(moved_ticket(route=two)) == (
        "needs 2 approvals from distinct people among <@U0CFO>, <@U0TREASURER>")
    one = Route(name="finance", channel="C0FINANCE", approvers=("U0CFO",))
    assert needs_line(moved_ticket(route=one)) == "needs approval by <@U0CFO>"
    empty = Route(name="finance", channel="C0FINANCE")
    assert "nobody" in needs_line(moved_ticket(route=empty))


def test_many_approvers_are_shortened_and_the_card_still_fits() -> None:
    crowd = Route(name="finance", channel="C0FINANCE",
                  approvers=tuple(f"U0APPROVER{i:03d}" for i in range(400)))
    message = render_moved_card(moved_ticket(route=crowd), "U0FINOPS")
    assert_fits(message)
    assert "more" in text_of(block(message["blocks"], BLOCK_MOVED))


def test_hostile_names_are_escaped() -> None:
    route = Route(name="<!here> & co", channel="#fin<!channel>", approvers=("U0CFO",))
    ticket = moved_ticket(route=route, policy_rule="`<!everyone>`")
    for message in (render_moved_card(ticket, "<!channel>"),
                    render_moved_away_note(ticket, "<!channel>"),
                    render_moved_here_note(ticket, "<!channel>", "not a channel <@U0X>")):
        assert_fits(message)
        shown = everything(message)
        for word in ("<!here>", "<!channel>", "<!everyone>"):
            assert word not in shown
        assert "<@U0X>" not in shown


def test_channel_link_only_links_channel_ids() -> None:
    assert channel_link("C0FINANCE") == "<#C0FINANCE>"
    assert channel_link("G0PRIVATE") == "<#G0PRIVATE>"
    assert channel_link("#finance") == "#finance"
    assert channel_link("fin<x>") == "#fin&lt;x&gt;"


def test_thread_notes_point_both_ways() -> None:
    ticket = moved_ticket()
    here = render_moved_here_note(ticket, "U0FINOPS", "C0PAYMENTS")
    away = render_moved_away_note(ticket, "U0FINOPS")
    for message in (here, away):
        assert_fits(message)
        assert buttons(message["blocks"]) == []
    assert here["text"].startswith("↪️ Moved here from <#C0PAYMENTS> for ")
    assert "no longer count" in here["text"]
    assert away["text"].startswith("➡️ Moved to <#C0FINANCE> for ")
    assert "needs approval by one of <@U0CFO>" in away["text"]
    assert ticket.id in everything(away)
