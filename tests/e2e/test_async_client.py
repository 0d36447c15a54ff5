"""AsyncApprovalClient against the gateway: request, wait by push, gated async tool, errors."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot import ApprovalConsumed, ApprovalDenied, AsyncApprovalClient, current_receipt
from bot.receipts import verify
from bot.render import ACTION_APPROVE
from store.models import TicketStatus
from tests.e2e.conftest import Gate, Rig

ARGS = {"amount": 120, "customer": "cus_42"}


def _click_when_posted(rig: Rig) -> threading.Thread:
    def run() -> None:
        deadline = time.monotonic() + 10
        while not rig.sandbox.calls("chat.postMessage") and time.monotonic() < deadline:
            time.sleep(0.01)
        rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_gated_async_tool_waits_runs_once_with_a_receipt(rig: Rig, gate: Gate) -> None:
    ran: list[dict[str, Any]] = []
    receipts: list[str | None] = []

    async def issue_refund(amount: int, customer: str) -> str:
        await asyncio.sleep(0)
        ran.append({"amount": amount, "customer": customer})
        receipts.append(current_receipt())
        return "refunded"

    async def agent() -> tuple[str, str]:
        async with AsyncApprovalClient(gate.url, gate.token) as client:
            gated = client.gate("issue_refund", requested_by="U0REQUESTER",
                                timeout=30)(issue_refund)
            clicker = _click_when_posted(rig)
            result = await gated(_reason="double charge", **ARGS)
            clicker.join()
            ticket_id = rig.ledger.list_tickets()[0].id
            with pytest.raises(ApprovalConsumed):
                await client.resume(ticket_id, gated)  # the gated tool knows its action
            with pytest.raises(ApprovalDenied) as denied:
                await client.request("drop_database", {"name": "prod"}, reason="cleanup",
                                     requested_by="U0REQUESTER")
            assert denied.value.reason == "never from an agent"
            return result, ticket_id

    # A thread of its own: the agent's event loop, whatever loop this test thread may carry.
    with ThreadPoolExecutor(1) as pool:
        result, ticket_id = pool.submit(asyncio.run, agent()).result(timeout=120)
    assert result == "refunded" and ran == [ARGS]
    assert rig.ledger.get_ticket(ticket_id).status == TicketStatus.EXECUTED
    keys = gate.gateway.jwks()
    assert receipts[0] is not None
    assert verify(receipts[0], action="issue_refund", args=ARGS, keys=keys)["sub"] == ticket_id
