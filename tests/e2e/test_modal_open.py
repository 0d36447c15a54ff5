"""A modal opens while the click's trigger_id is fresh, whatever the permission check costs,
and a modal Slack will not open is told to the reviewer instead of being lost."""

from __future__ import annotations

import pytest

from bot.render import ACTION_REJECT, CALLBACK_REJECT, REASON_ACTION
from bot.render.ids import CALLBACK_NOTICE
from store.models import Ticket, TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import settled, wait_ephemeral


def restart(rig: Rig) -> Ticket:
    """A request on the default route, whose approvers are the user group S0SREGROUP."""
    return rig.client.request("restart_service", {"service": "api"}, reason="stuck",
                              requested_by="U0REQUESTER")


@pytest.mark.slow
def test_a_slow_group_lookup_does_not_cost_the_modal(rig: Rig) -> None:
    ticket = restart(rig)
    # The permission check waits 3 s on Slack (e.g. a client sleeping through a 429).
    rig.sandbox.inject_fault("usergroups.users.list", delay=3)
    assert rig.sandbox.click("U0SRE1", action_id=ACTION_REJECT, channel="C0APPROVALS").ok
    view = rig.sandbox.wait_until(lambda: next(iter(rig.sandbox.views("U0SRE1")), None))
    assert view.data["callback_id"] == CALLBACK_REJECT
    assert not [c for c in rig.sandbox.calls("views.open") if not c.ok]
    rig.sandbox.submit("U0SRE1", {REASON_ACTION: "not during the incident"})
    assert settled(rig, ticket.id).status == TicketStatus.REJECTED


@pytest.mark.slow
def test_a_late_refusal_replaces_the_form(rig: Rig) -> None:
    ticket = restart(rig)
    rig.sandbox.inject_fault("usergroups.users.list", delay=3)
    rig.sandbox.click("U0OUTSIDER", action_id=ACTION_REJECT, channel="C0APPROVALS")
    notice = rig.sandbox.wait_until(lambda: next(
        (v for v in rig.sandbox.views("U0OUTSIDER")
         if v.data["callback_id"] == CALLBACK_NOTICE), None), timeout=10)
    assert "told you why" in str(notice.data["blocks"])
    wait_ephemeral(rig, "U0OUTSIDER", "Only the approvers")
    assert "submit" not in notice.data or notice.data["submit"] is None
    assert rig.ledger.decisions(ticket.id) == []


def test_a_modal_slack_will_not_open_is_told_to_the_reviewer(rig: Rig) -> None:
    ticket = restart(rig)
    rig.sandbox.inject_fault("views.open", error="expired_trigger_id")
    assert rig.sandbox.click("U0SRE1", action_id=ACTION_REJECT, channel="C0APPROVALS").ok
    text = wait_ephemeral(rig, "U0SRE1", "could not open the form")
    assert "expired_trigger_id" in text and "again" in text
    assert rig.sandbox.views("U0SRE1") == []
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
