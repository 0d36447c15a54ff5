"""``signoff mcp-proxy`` end to end: a real MCP client session over stdio to the proxy
subprocess, which fronts a real upstream MCP server and asks the real bot (sandbox Slack,
signed clicks, a real database) about each call."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import mcp_types as types
from mcp import Client

from bot.render import ACTION_APPROVE, ACTION_EDIT, ACTION_REJECT, REASON_BLOCK
from store.models import Ticket, TicketStatus
from tests.e2e.test_reviews import settled
from tests.mcp.conftest import McpRig

T = TypeVar("T")
WRITE = {"name": "todo", "text": "ship the proxy"}


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(scenario)


def text(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


def pending_ticket(m: McpRig, action: str = "notes.write_note") -> Ticket:
    """The card's ticket, once the proxy has asked."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [t for t in m.rig.ledger.list_tickets() if t.action == action
                 and t.status == TicketStatus.PENDING and t.card is not None]
        if found:
            return found[-1]
        time.sleep(0.02)
    raise AssertionError(f"no pending card for {action}")


async def call_while(client: Client, name: str, args: dict[str, Any],
                     reviewer: Callable[[], Any]) -> types.CallToolResult:
    """Call a tool; meanwhile a reviewer acts on its card in Slack."""
    results: list[types.CallToolResult] = []
    async with anyio.create_task_group() as tg:
        async def call() -> None:
            results.append(await client.call_tool(name, args))

        tg.start_soon(call)
        await anyio.to_thread.run_sync(reviewer)
    return results[0]


def test_lists_upstream_tools_hides_always_denied_reads_pass_denied_writes_stop(
        mcp_rig: McpRig) -> None:
    async def scenario() -> tuple[list[types.Tool], types.CallToolResult,
                                  types.CallToolResult, types.CallToolResult]:
        async with mcp_rig.session() as client:
            tools = (await client.list_tools()).tools
            read = await client.call_tool("read_note", {"name": "todo"})
            denied = await client.call_tool("write_note", {"name": "passwd", "text": "x"})
            hidden = await client.call_tool("purge", {})
            return tools, read, denied, hidden

    tools, read, denied, hidden = run(scenario)
    names = {t.name for t in tools}
    assert names == {"read_note", "write_note", "sync", "signoff_status"}
    write = next(t for t in tools if t.name == "write_note")
    assert write.annotations is not None and write.annotations.destructive_hint is True
    assert not read.is_error
    assert denied.is_error and "no-system-notes" in text(denied)
    assert "system notes are off limits" in text(denied)
    assert hidden.is_error and "no tool named 'purge'" in text(hidden)
    calls = mcp_rig.upstream_calls()
    assert calls == [{"tool": "read_note", "args": {"name": "todo"}}]
    allowed = [t for t in mcp_rig.rig.ledger.list_tickets() if t.action == "notes.read_note"]
    assert [t.status for t in allowed] == [TicketStatus.EXECUTED]
    assert allowed[0].policy_rule == "mcp-reads"
    assert mcp_rig.rig.sandbox.calls("chat.postMessage") == []


def test_approved_write_runs_once_upstream_with_exactly_the_approved_args(
        mcp_rig: McpRig) -> None:
    rig = mcp_rig.rig

    def approve() -> None:
        pending_ticket(mcp_rig)
        rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")

    async def scenario() -> types.CallToolResult:
        async with mcp_rig.session() as client:
            return await call_while(client, "write_note", WRITE, approve)

    result = run(scenario)
    assert not result.is_error, text(result)
    assert "wrote 14 characters to todo" in text(result)
    assert mcp_rig.upstream_calls() == [{"tool": "write_note", "args": WRITE}]
    (ticket,) = [t for t in rig.ledger.list_tickets() if t.action == "notes.write_note"]
    assert ticket.status == TicketStatus.EXECUTED and ticket.decided_by == "U0PAYLEAD"
    assert ticket.summary == "Overwrite a note with new text."
    assert ticket.args_schema is not None and "text" in ticket.args_schema["properties"]
    assert ticket.args == WRITE
    posts = [c for c in rig.sandbox.calls("chat.postMessage") if c.ok]
    assert posts[0].args["channel"] == "C0PAYMENTS"
