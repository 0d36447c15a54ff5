"""The demo's MCP part: an MCP client session through the real ``signoff mcp-proxy`` to the
notes server (a stdio subprocess). The read passes at once; the write arrives as a card in
``#approvals`` and, once approved there, runs upstream with exactly the approved text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.demo import mcp_client
from bot.demo.config import AGENT_LOG, APPROVALS, REVIEWER
from bot.demo.runner import Demo, DemoOptions
from bot.render import ACTION_APPROVE
from store.models import TicketStatus

pytest.importorskip("mcp", reason="the demo's MCP part needs the mcp extra")


@pytest.fixture
def demo() -> Iterator[Demo]:
    with Demo(DemoOptions(port=0, fast=True, say=lambda _line: None)) as running:
        yield running


def _log(demo: Demo, needle: str) -> str:
    sb = demo.sandbox
    assert sb is not None

    found: str = sb.wait_until(lambda: next(
        (m.text for m in sb.messages(AGENT_LOG) if needle in m.text), None), timeout=90)
    return found


def test_a_proxied_write_waits_for_slack_and_runs_the_approved_text(demo: Demo) -> None:
    sb, ledger = demo.sandbox, demo.ledger
    assert sb is not None and ledger is not None and demo.mcp is not None
    assert "Restart the worker" in _log(demo, "`notes.read_note` passed at once")
    ticket = sb.wait_until(lambda: next(
        (t for t in ledger.list_tickets(limit=100)
         if t.action == "notes.write_note" and t.card is not None), None), timeout=90)
    assert ticket.status == TicketStatus.PENDING and ticket.agent == "mcp-proxy"
    assert ticket.policy_rule == "mcp-writes" and ticket.card.channel == APPROVALS
    assert ticket.args == mcp_client.WRITE
    assert sb.click(REVIEWER.id, action_id=ACTION_APPROVE, channel=APPROVALS,
                    message_ts=ticket.card.ts).ok
    assert "wrote" in _log(demo, "`notes.write_note` ran")
    written = (demo.mcp.root / "launch-plan.txt").read_text()
    assert written == mcp_client.WRITE["text"]
    assert sb.wait_until(lambda: ledger.get_ticket(ticket.id).status == TicketStatus.EXECUTED,
                         timeout=10)
    reads = [t for t in ledger.list_tickets(limit=100) if t.action == "notes.read_note"]
    assert [t.status for t in reads] == [TicketStatus.EXECUTED]
