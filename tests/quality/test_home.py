"""App Home shows a route's review-quality figures to that route's approvers only (users, or
members of the route's user group), read from the ledger when the tab is opened."""

from __future__ import annotations

import json

from bot.render import ACTION_APPROVE
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import refund, settled


def _home_text(rig: Rig, user: str) -> str:
    before = rig.sandbox.home(user)
    assert rig.sandbox.open_app_home(user).ok
    home = rig.sandbox.wait_until(lambda: (h := rig.sandbox.home(user)) is not None
                                  and h is not before and h)
    return json.dumps(home.data, ensure_ascii=False)


def test_route_approvers_see_their_routes_figures(rig: Rig) -> None:
    ticket = refund(rig)
    assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS").ok
    settled(rig, ticket.id)
    refund(rig, amount=80)  # still waiting
    lead = _home_text(rig, "U0PAYLEAD")
    assert "Review quality" in lead and "*payments*" in lead
    assert "2 requests" in lead and "approved 100.0%" in lead
    assert "<@U0PAYLEAD>: 1 decisions, 100.0% approved" in lead
    assert "*default*" not in lead  # the SRE group's route
    sre = _home_text(rig, "U0SRE1")  # a member of the default route's user group
    assert "*default*" in sre and "*payments*" not in sre
    outsider = _home_text(rig, "U0OUTSIDER")
    assert "Review quality" not in outsider
