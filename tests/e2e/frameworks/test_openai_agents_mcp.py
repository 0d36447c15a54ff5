"""MCP tools used from the OpenAI Agents SDK, reviewed by signoff: a real MCP server over
stdio (the notes server of the proxy's tests), ``require_approval`` from signoff, and each
call filed as the action ``<server>.<tool>``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, Runner
from agents.mcp import MCPServerStdio

from bot import ApprovalPending
from bot.integrations.openai_agents import SignoffApprovals
from store.models import TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.frameworks.agents_model import ToolCallingModel
from tests.e2e.frameworks.decide import approve_as, edit_as, only_ticket

NOTES = Path(__file__).parents[2] / "mcp" / "notes_server.py"
WRITE = ("write_note", {"name": "todo", "text": "buy milk"}, "call_w")


def upstream_calls(root: Path) -> list[dict[str, Any]]:
    log = root / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def scenario(rig: Rig, root: Path, decide: Any, *, twice: bool = False) -> Any:
    signoff = SignoffApprovals(rig.client, requested_by="U0REQUESTER", run_id="mcp-1",
                               timeout=10)

    async def go() -> Any:
        server = MCPServerStdio(name="notes", params={
            "command": sys.executable, "args": [str(NOTES)], "env": {"NOTES_ROOT": str(root)}},
            require_approval=signoff.mcp_require_approval)
        async with server:
            agent = Agent(name="notes", model=ToolCallingModel(WRITE), mcp_servers=[server])
            result = await Runner.run(agent, "note it")
            assert [i.name for i in result.interruptions] == ["write_note"]
            assert rig.ledger.list_tickets() == []  # this hook is not shown the arguments
            with pytest.raises(ApprovalPending):    # so deciding files it: the card goes out
                await signoff.decide(result.to_state(), timeout=0)
            saved = result.to_state().to_string()
            await asyncio.to_thread(decide)
            done = await signoff.resume(agent, result)
            if not twice:
                return done
            return done, await signoff.resume(agent, saved)  # the same pause, resumed again

    return asyncio.run(go())


def test_an_mcp_call_is_filed_as_server_dot_tool_and_runs_once_approved(
        rig: Rig, tmp_path: Path) -> None:
    def decide() -> None:
        ticket = only_ticket(rig)
        assert ticket.action == "notes.write_note" and ticket.args == WRITE[1]
        assert upstream_calls(tmp_path) == []
        approve_as(rig, ticket, "U0SRE1")

    done, again = scenario(rig, tmp_path, decide, twice=True)
    assert upstream_calls(tmp_path) == [{"tool": "write_note", "args": WRITE[1]}]
    assert "wrote 8 characters" in done.final_output
    assert "already executed" in again.final_output  # the approval was consumed once
    final = only_ticket(rig)
    assert final.status == TicketStatus.EXECUTED and final.outcome is not None
    assert "wrote 8 characters" in (final.outcome.summary or "")


def test_an_edited_mcp_call_is_sent_back_not_run_with_other_arguments(
        rig: Rig, tmp_path: Path) -> None:
    def decide() -> None:
        edit_as(rig, only_ticket(rig), "U0SRE1", {"text": "buy oat milk"})

    done = scenario(rig, tmp_path, decide)
    assert upstream_calls(tmp_path) == []
    assert "buy oat milk" in done.final_output and "nothing ran" in done.final_output
