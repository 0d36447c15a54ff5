"""``signoff mcp-proxy`` end to end: a real MCP client session over stdio to the proxy
subprocess, which fronts a real upstream MCP server and asks the real bot (sandbox Slack,
signed clicks, a real database) about each call."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import mcp_types as types
from mcp import Client
from sqlalchemy import update

from bot.render import (
    ACTION_APPROVE,
    ACTION_EDIT,
    ACTION_REJECT,
    ACTION_REQUEST_INFO,
    QUESTION_BLOCK,
    REASON_BLOCK,
)
from store.db import db_now
from store.models import Ticket, TicketStatus
from store.tables import TicketRow
from tests.e2e.test_reviews import settled
from tests.mcp.conftest import McpRig

T = TypeVar("T")
WRITE = {"name": "todo", "text": "ship the proxy"}
PLAN = {"name": "plan", "text": "next: tasks"}


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(scenario)


def text(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


def pending(result: types.CallToolResult) -> dict[str, Any]:
    """The proxy's "pending" answer, as the model reads it (JSON text)."""
    doc: dict[str, Any] = json.loads(text(result))
    return doc


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


def outcome(m: McpRig, action: str) -> list[Ticket]:
    """The tickets of ``action`` once their outcomes are recorded (the proxy records them
    just after answering the client)."""
    deadline = time.monotonic() + 10
    while True:
        tickets = [t for t in m.rig.ledger.list_tickets() if t.action == action]
        if not any(t.status in (TicketStatus.APPROVED, TicketStatus.EXECUTING)
                   for t in tickets) or time.monotonic() > deadline:
            return tickets
        time.sleep(0.02)


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
    assert names == {"read_note", "write_note", "sync", "signoff_status", "signoff_answer"}
    write = next(t for t in tools if t.name == "write_note")
    assert write.annotations is not None and write.annotations.destructive_hint is True
    assert not read.is_error, text(read)
    assert denied.is_error and "no-system-notes" in text(denied)
    assert "system notes are off limits" in text(denied)
    assert hidden.is_error and "no tool named 'purge'" in text(hidden)
    calls = mcp_rig.upstream_calls()
    assert calls == [{"tool": "read_note", "args": {"name": "todo"}}]
    allowed = outcome(mcp_rig, "notes.read_note")
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
    (ticket,) = outcome(mcp_rig, "notes.write_note")
    assert ticket.status == TicketStatus.EXECUTED and ticket.decided_by == "U0PAYLEAD"
    assert ticket.summary == "Overwrite a note with new text."
    assert ticket.args_schema is not None and "text" in ticket.args_schema["properties"]
    assert ticket.args == WRITE
    posts = [c for c in rig.sandbox.calls("chat.postMessage") if c.ok]
    assert posts[0].args["channel"] == "C0PAYMENTS"


def test_edit_changes_what_runs_upstream(mcp_rig: McpRig) -> None:
    rig = mcp_rig.rig

    def edit() -> None:
        ticket = pending_ticket(mcp_rig)
        assert rig.sandbox.click("U0FINOPS", action_id=ACTION_EDIT, channel="C0PAYMENTS").ok
        rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
        done = rig.sandbox.submit("U0FINOPS", {"arg:text": {"signoff_edit_value": "reviewed"}})
        assert done.ok and done.response_action is None, done
        after = settled(rig, ticket.id)
        assert after.final_args == {"name": "todo", "text": "reviewed"}, after
        assert after.status == TicketStatus.APPROVED, (after.status, after.route, after.decided_by)

    async def scenario() -> types.CallToolResult:
        async with mcp_rig.session() as client:
            return await call_while(client, "write_note", WRITE, edit)

    result = run(scenario)
    assert not result.is_error and "wrote 8 characters" in text(result)
    assert mcp_rig.upstream_calls() == [
        {"tool": "write_note", "args": {"name": "todo", "text": "reviewed"}}]
    assert (mcp_rig.notes / "todo.txt").read_text() == "reviewed"


def test_reject_returns_the_reviewers_reason_and_nothing_runs(mcp_rig: McpRig) -> None:
    rig = mcp_rig.rig

    def reject() -> None:
        pending_ticket(mcp_rig)
        assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_REJECT,
                                 channel="C0PAYMENTS").ok
        rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))
        rig.sandbox.submit("U0PAYLEAD", {REASON_BLOCK: {"signoff_reason_value":
                                                        "todo is frozen this week"}})

    async def scenario() -> types.CallToolResult:
        async with mcp_rig.session() as client:
            return await call_while(client, "write_note", WRITE, reject)

    result = run(scenario)
    assert result.is_error and "todo is frozen this week" in text(result)
    assert mcp_rig.upstream_calls() == []


def test_bounded_wait_then_the_same_call_and_signoff_status_pick_up_one_ticket(
        mcp_rig: McpRig) -> None:
    rig = mcp_rig.rig

    async def scenario() -> tuple[Any, ...]:
        async with mcp_rig.session(wait=0.5) as client:
            first = await client.call_tool("write_note", WRITE)
            again = await client.call_tool("write_note", WRITE)
            ticket_id = pending(first)["ticket"]
            await anyio.to_thread.run_sync(lambda: (
                rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS"),
                settled(rig, ticket_id)))
            done = await client.call_tool("signoff_status", {"ticket": ticket_id})
            twice = await client.call_tool("signoff_status", {"ticket": ticket_id})
            fresh = await client.call_tool("write_note", WRITE)
            return first, again, done, twice, fresh

    first, again, done, twice, fresh = run(scenario)
    assert pending(first)["status"] == "pending" and not first.is_error
    assert "again" in pending(first)["message"]
    assert pending(again)["ticket"] == pending(first)["ticket"]
    assert not done.is_error and "wrote 14 characters" in text(done)
    assert (twice.is_error and "consumed" in text(twice).lower()) or "already" in text(twice)
    # Once run, the same call is a new request: a new card, not a replay.
    assert pending(fresh)["ticket"] != pending(first)["ticket"]
    assert mcp_rig.upstream_calls() == [{"tool": "write_note", "args": WRITE}]
    cards = [c for c in rig.sandbox.calls("chat.postMessage")
             if c.ok and "thread_ts" not in c.args]
    assert len(cards) == 2


def test_expired_request_returns_the_expiry_error_and_the_upstream_never_sees_it(
        mcp_rig: McpRig) -> None:
    rig = mcp_rig.rig

    async def scenario() -> tuple[types.CallToolResult, types.CallToolResult]:
        async with mcp_rig.session(wait=0.5) as client:
            first = await client.call_tool("write_note", WRITE)
            ticket = rig.ledger.get_ticket(pending(first)["ticket"])
            with rig.ledger.engine.begin() as conn:  # its hour has passed (the database's clock)
                conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                             .values(expires_at=db_now(), next_action_at=db_now()))
            rig.service.engine().tick(at=ticket.created_at + timedelta(hours=2))
            assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.EXPIRED
            return first, await client.call_tool("write_note", WRITE)

    _, expired = run(scenario)
    assert expired.is_error and "expired" in text(expired).lower()
    assert "did not run" in text(expired)
    assert mcp_rig.upstream_calls() == []


def test_upstream_crash_mid_call_is_reported_not_retried(mcp_rig: McpRig) -> None:
    async def scenario() -> types.CallToolResult:
        async with mcp_rig.session() as client:
            return await client.call_tool("sync", {})

    result = run(scenario)
    assert result.is_error and "not retried" in text(result)
    assert mcp_rig.upstream_calls() == [{"tool": "sync", "args": {}}]
    (ticket,) = outcome(mcp_rig, "notes.sync")
    assert ticket.status == TicketStatus.FAILED


def test_two_clients_at_once_each_get_their_own_approved_result(mcp_rig: McpRig) -> None:
    rig = mcp_rig.rig
    writes = [{"name": "a", "text": "from client one"}, {"name": "b", "text": "client two"}]

    def approve_both() -> None:
        deadline = time.monotonic() + 30
        while True:
            open_ = [t for t in rig.ledger.list_tickets([TicketStatus.PENDING])
                     if t.card is not None]
            if len(open_) == 2:
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        for ticket in open_:
            rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                              message_ts=rig.card_ts(ticket.id))

    async def scenario() -> list[types.CallToolResult]:
        results: list[types.CallToolResult] = [None, None]  # type: ignore[list-item]
        async with mcp_rig.session() as one, mcp_rig.session() as two:
            async def call(i: int, client: Client) -> None:
                read = await client.call_tool("read_note", {"name": "x"})
                assert not read.is_error, text(read)
                results[i] = await client.call_tool("write_note", writes[i])

            async with anyio.create_task_group() as tg:
                tg.start_soon(call, 0, one)
                tg.start_soon(call, 1, two)
                await anyio.to_thread.run_sync(approve_both)
        return results

    results = run(scenario)
    assert "wrote 15 characters to a" in text(results[0])
    assert "wrote 10 characters to b" in text(results[1])
    writes_seen = [c["args"] for c in mcp_rig.upstream_calls() if c["tool"] == "write_note"]
    assert sorted(writes_seen, key=lambda a: a["name"]) == writes


def test_a_reviewers_question_reaches_the_model_and_its_answer_the_reviewer(
        mcp_rig: McpRig) -> None:
    rig = mcp_rig.rig

    def ask() -> None:
        ticket = pending_ticket(mcp_rig)
        assert ticket.policy_rule == "plans-get-questions"  # an approval card: it can ask
        rig.sandbox.click("U0FINOPS", action_id=ACTION_REQUEST_INFO, channel="C0PAYMENTS")
        rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
        rig.sandbox.submit("U0FINOPS", {QUESTION_BLOCK: {"signoff_question_value":
                                                         "Why overwrite the plan?"}})
        assert settled(rig, ticket.id).status == TicketStatus.NEEDS_INFO

    async def scenario() -> tuple[Any, ...]:
        async with mcp_rig.session(wait=3) as client:
            asked = await call_while(client, "write_note", PLAN, ask)
            if pending(asked)["status"] != "needs_info":  # the question came after the wait
                asked = await client.call_tool("write_note", PLAN)
            ticket_id = pending(asked)["ticket"]
            answered = await client.call_tool("signoff_answer", {
                "ticket": ticket_id, "text": "the old plan is done"})
            back = rig.ledger.get_ticket(ticket_id).status
            return asked, answered, back

    asked, answered, back = run(scenario)
    doc = pending(asked)
    assert doc["status"] == "needs_info" and doc["question"] == "Why overwrite the plan?"
    assert not answered.is_error and back == TicketStatus.PENDING
    thread = rig.sandbox.thread("C0PAYMENTS", rig.card_ts(doc["ticket"]))
    assert "the old plan is done" in " ".join(m.text + str(m.blocks) for m in thread)
    assert mcp_rig.upstream_calls() == []
