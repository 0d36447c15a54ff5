"""What delegation and fallback surfaces look like: both names on the card, and every new
surface accepted by the sandbox's validator and by slack_sdk.models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hypothesis import given

from bot.render import render_card, render_escalation_dm
from bot.render.delegation import (
    FALLBACK_DM_NOTE,
    delegated_dm_note,
    render_delegate_modal,
    render_delegation_blocks,
)
from bot.render.thread import render_fallback_dm, with_note
from store.models import Ticket, TicketStatus
from tests.render.render_checks import NOW, make_ticket
from tests.render.test_render_limits import FAST, tickets
from tests.render.test_slack_models import agree_on_message, agree_on_view


@dataclass(frozen=True)
class Lent:
    id: int
    principal: str
    delegate: str
    ends_at: datetime


def test_a_delegates_approval_names_both_people_on_the_card() -> None:
    ticket = make_ticket().model_copy(update={
        "status": TicketStatus.APPROVED, "approvals": ("U0DEP",), "decided_by": "U0DEP",
        "decided_at": NOW, "acting_for": {"U0DEP": "U0LEAD"}})
    text = str(render_card(ticket, now=NOW)["blocks"])
    assert "<@U0DEP> on behalf of <@U0LEAD>" in text


@FAST
@given(tickets())
def test_delegation_surfaces_pass_both_validators(ticket: Ticket) -> None:
    agree_on_message(render_fallback_dm(ticket, FALLBACK_DM_NOTE))
    agree_on_message(with_note(render_escalation_dm(ticket, 1),
                               delegated_dm_note("U0LEAD", NOW + timedelta(days=2))))


def test_the_form_and_the_home_section_pass_both_validators() -> None:
    agree_on_view(render_delegate_modal(date(2026, 11, 26)))
    given_ = [Lent(7, "U0LEAD", "U0DEP", NOW + timedelta(days=3))]
    held = [Lent(8, "U0BOSS", "U0LEAD", NOW + timedelta(days=1))]
    for blocks in (render_delegation_blocks("U0LEAD", given_, held),
                   render_delegation_blocks("U0LEAD", [], [])):
        agree_on_view({"type": "home", "blocks": blocks})
    text = str(render_delegation_blocks("U0LEAD", given_, held))
    assert "<@U0DEP> decides for you" in text and "You decide for <@U0BOSS>" in text
    assert "Delegate my reviews" not in text  # one delegation at a time: revoke it first


def test_a_click_whose_delegation_ended_first_says_nothing_was_recorded_and_why() -> None:
    from bot.render.delegation import delegation_ended

    named = delegation_ended("U0LEAD")
    assert named.startswith("Nothing was recorded") and "<@U0LEAD>" in named
    assert "revoked or ended" in named
    unnamed = delegation_ended(None)  # a fallback's: the delegations that put others away
    assert "Nothing was recorded" in unnamed and "<@" not in unnamed


def test_the_form_names_whose_midnight_ends_the_delegation() -> None:
    from bot.render.delegation import back_on_hint
    from bot.render.grant import ZONE_FROM_OFFSET, ZONE_FROM_TZ, ZONE_UNREAD, zone_of_metadata

    view = render_delegate_modal(date(2026, 11, 26), zone="Asia/Tokyo", how=ZONE_FROM_TZ)
    agree_on_view(view)
    assert "00:00 (Asia/Tokyo)" in str(view["blocks"])
    assert zone_of_metadata(view["private_metadata"]) == ("Asia/Tokyo", ZONE_FROM_TZ)
    assert "your Slack offset" in back_on_hint("UTC-03:00", ZONE_FROM_OFFSET)
    assert "could not be read" in back_on_hint("UTC", ZONE_UNREAD)
