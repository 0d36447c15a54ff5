"""Request → card → signed click → ledger → card updated → the agent resumes."""

from __future__ import annotations

import threading
from typing import Any

from bot.render import ACTION_APPROVE
from store.models import TicketStatus
from tests.e2e.conftest import Rig


def test_approve_flow(rig: Rig) -> None:
    ticket = rig.client.request("issue_refund", {"amount": 120, "customer": "cus_42"},
                                reason="customer was double charged",
                                requested_by="U0REQUESTER", agent="billing-bot")
    assert ticket.status == TicketStatus.PENDING
    posts = rig.sandbox.calls("chat.postMessage")
    assert len(posts) == 1 and posts[0].args["channel"] == "C0PAYMENTS"

    waited: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: waited.update(t=rig.client.wait(ticket.id, 10)))
    waiter.start()
    result = rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert result.status == 200
    waiter.join(timeout=15)
    assert waited["t"].status == TicketStatus.APPROVED
    assert waited["t"].decided_by == "U0PAYLEAD"
    rig.sandbox.wait_until(lambda: rig.sandbox.calls("chat.update"))
    card = rig.sandbox.message("C0PAYMENTS", rig.card_ts(ticket.id))
    assert card is not None
    assert not any(b.get("type") == "actions" for b in card.blocks)
