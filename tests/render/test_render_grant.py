"""The standing-grant surfaces: what "similar" means is shown before confirming, secrets stay
masked everywhere, and every view and message fits Block Kit."""

from __future__ import annotations

from datetime import timedelta

from bot.render import parse_private_metadata, render_card
from bot.render.grant import (
    ACTION_GRANT,
    ACTION_REVOKE_GRANT,
    SPAN_BLOCK,
    USES_BLOCK,
    ZONE_FROM_OFFSET,
    ZONE_FROM_TZ,
    ZONE_UNREAD,
    GrantView,
    bound_text,
    eod_option,
    eod_too_soon,
    render_grant_created,
    render_grant_home,
    render_grant_modal,
    render_grant_use,
    zone_of_metadata,
)
from bot.render.values import MASK
from store.grants import SPANS
from store.models import RiskTier, Route
from tests.render.render_checks import (
    NOW,
    assert_fits_message,
    assert_fits_view,
    block,
    everything,
    make_ticket,
)

SECRET_ARGS = {"amount": 120, "api_key": "sk_live_123", "to": "ann@example.com"}


def test_the_form_shows_every_condition_and_masks_secrets() -> None:
    ticket = make_ticket(args=SECRET_ARGS)
    lines = [bound_text(ticket, "amount", "max", "120"),
             bound_text(ticket, "api_key", "equals", "sk_live_123"),
             bound_text(ticket, "to", "domain", "example.com")]
    view = render_grant_modal(ticket, lines, SPANS, origin=("C0REVIEWS", "1.2"))
    assert_fits_view(view)
    text = everything(view)
    assert "amount ≤ 120 (and not negative)" in text and "an address at example.com" in text
    assert f"api_key = {MASK} (exactly)" in text and "sk_live_123" not in text
    assert "billing-bot" in text and ticket.requested_by in text
    assert block(view["blocks"], SPAN_BLOCK)["element"]["type"] == "radio_buttons"
    assert block(view["blocks"], USES_BLOCK)["element"]["max_value"] == "100"


def test_the_use_line_and_the_created_line_mask_secrets_and_fit() -> None:
    ticket = make_ticket(args=SECRET_ARGS)
    line = render_grant_use(ticket, "g1", "approved by standing grant g1 (…, 1 of 3)")
    assert_fits_message(line)
    assert "sk_live_123" not in everything(line) and "1 of 3" in everything(line)
    made = render_grant_created(ticket, "g1", "U0LEAD", NOW + timedelta(hours=2), 3,
                                [bound_text(ticket, "api_key", "equals", "sk_live_123")])
    assert_fits_message(made)
    assert "sk_live_123" not in everything(made) and "at most 3" in everything(made)


def test_the_card_offers_a_grant_only_where_one_could_be_made() -> None:
    def has_grant(**over: object) -> bool:
        return ACTION_GRANT in everything(render_card(make_ticket(**over)))

    assert has_grant()
    assert not has_grant(tier=RiskTier.CRITICAL)
    assert not has_grant(route=Route(channel="C0REVIEWS", approvers=("U0A", "U0B"),
                                     approvals_required=2))


def test_app_home_lists_active_grants_with_a_revoke_button() -> None:
    views = [GrantView(id=f"g{i}", action="issue_refund", requested_by="U0REQ",
                       granted_by="U0LEAD", expires_at=NOW, uses=i, max_uses=3,
                       state=state, bounds=("amount ≤ 120",))
             for i, state in enumerate(["active", "expired", "revoked", "active"])]
    blocks = render_grant_home(views)
    text = everything(blocks)
    assert "g0" in text and "g3" in text and "g1" not in text and "g2" not in text
    assert text.count(ACTION_REVOKE_GRANT) == 2
    assert render_grant_home(views[1:3]) == []


def test_the_end_of_day_choice_names_whose_midnight_it_is_and_the_form_carries_it() -> None:
    ticket = make_ticket(args=SECRET_ARGS)
    for zone, how, shown in [
            ("America/Los_Angeles", ZONE_FROM_TZ, "until end of day (23:59 America/Los_Angeles)"),
            ("UTC-07:00", ZONE_FROM_OFFSET, "23:59 UTC-07:00, your Slack offset"),
            ("UTC", ZONE_UNREAD, "23:59 UTC: your Slack time zone could not be read")]:
        view = render_grant_modal(ticket, [], SPANS, origin=("C0REVIEWS", "1.2"), zone=zone,
                                  how=how)
        assert_fits_view(view)
        options = block(view["blocks"], SPAN_BLOCK)["element"]["options"]
        assert [o["value"] for o in options] == ["30m", "2h", "eod"]
        assert shown in options[2]["text"]["text"]
        assert zone_of_metadata(view["private_metadata"]) == (zone, how)
        assert parse_private_metadata(view["private_metadata"]).ticket_id == ticket.id
    long_zone = "America/Argentina/ComodRivadavia"
    assert len(eod_option(long_zone, ZONE_FROM_TZ)) <= 75  # Slack's limit for option text
    assert zone_of_metadata("not json") == zone_of_metadata("[1]") == (None, None)


def test_a_day_about_to_end_and_an_end_of_day_grant_say_which_zone() -> None:
    soon = eod_too_soon("Asia/Tokyo", timedelta(minutes=3))
    assert "3m" in soon and "midnight Asia/Tokyo" in soon and "30 min or 2 h" in soon
    ticket = make_ticket(args=SECRET_ARGS)
    made = render_grant_created(ticket, "g1", "U0LEAD", NOW + timedelta(hours=5), 3, [],
                                zone="Asia/Tokyo")
    assert_fits_message(made)
    assert "until the end of the day in Asia/Tokyo (<!date^" in everything(made)
    timed = render_grant_created(ticket, "g2", "U0LEAD", NOW + timedelta(hours=2), 3, [])
    assert "end of the day" not in everything(timed)
