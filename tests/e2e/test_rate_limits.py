"""A burst of 429s never parks the decision pool or a click's thread in a sleep: decisions are
recorded at once and the card updates Slack refused wait in the bot's retry queue."""

from __future__ import annotations

import time

import pytest

from bot.render import ACTION_APPROVE
from store.models import TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import refund, wait_ephemeral


@pytest.mark.slow
def test_rate_limited_card_updates_do_not_hold_up_decisions(rig: Rig) -> None:
    sb = rig.sandbox
    tickets = [refund(rig, 100 + i) for i in range(4)]
    sb.inject_fault("chat.update", retry_after=2, times=4)  # Tier 3, used up
    started = time.monotonic()
    for ticket in tickets:
        assert sb.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                        message_ts=rig.card_ts(ticket.id)).ok
    while (time.monotonic() - started < 10 and
           any(rig.ledger.get_ticket(t.id).status == TicketStatus.PENDING for t in tickets)):
        time.sleep(0.02)
    recorded = time.monotonic() - started
    assert all(rig.ledger.get_ticket(t.id).status == TicketStatus.APPROVED for t in tickets)
    # Two decision workers sleeping 2 s each would need at least 2 s for the last two.
    assert recorded < 1.5, f"decisions took {recorded:.2f} s: a worker slept on a 429"
    # ... and every card still shows its decision, once Slack's wait is over.
    for ticket in tickets:
        card = sb.wait_until(lambda t=ticket: (m := sb.message("C0PAYMENTS", rig.card_ts(t.id)))
                             and m.history and m, timeout=8)  # updated in place
        assert "approved" in card.text.lower()
    assert sum(1 for c in sb.calls("chat.update") if c.status == 429) == 4


def test_a_rate_limited_group_lookup_is_told_not_slept_through(rig: Rig) -> None:
    sb = rig.sandbox
    ticket = rig.client.request("restart_service", {"service": "api"}, reason="stuck",
                                requested_by="U0REQUESTER")  # approvers: S0SREGROUP
    sb.inject_fault("usergroups.users.list", retry_after=30)  # Tier 2, used up
    started = time.monotonic()
    sb.click("U0SRE1", action_id=ACTION_APPROVE, channel="C0APPROVALS")
    text = wait_ephemeral(rig, "U0SRE1", "rate-limiting")
    assert time.monotonic() - started < 3 and "30 s" in text
    assert rig.ledger.decisions(ticket.id) == []
    sb.click("U0SRE1", action_id=ACTION_APPROVE, channel="C0APPROVALS")  # Slack answers now
    sb.wait_until(lambda: rig.ledger.get_ticket(ticket.id).status == TicketStatus.APPROVED)
