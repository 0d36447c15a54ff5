"""The README's worked example: its signoff.yml loads, and its notes server, opened as the
proxy opens upstreams, offers reads marked read-only and writes marked destructive, which
its rules tell apart."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from bot.mcp.upstreams import Upstreams
from escalation.config import load_config
from escalation.policy import Policy, Proposal
from tests.mcp.conftest import REPO

EXAMPLE = REPO / "examples" / "mcp_notes" / "signoff.yml"


def test_example_reads_pass_writes_wait_runbook_delete_denied(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    upstream = config.mcp.upstreams["notes"]
    # Launched from the repository root, as the README says (with this interpreter).
    config = config.model_copy(update={"mcp": config.mcp.model_copy(update={"upstreams": {
        "notes": upstream.model_copy(update={"cwd": str(REPO), "command": sys.executable,
                                             "env": {"NOTES_ROOT": str(tmp_path)}})}})})

    async def listed() -> dict[str, dict[str, object]]:
        async with Upstreams(config.mcp) as ups:
            return {name: tool.annotations for name, tool in ups.tools.items()}

    tools = anyio.run(listed)
    assert set(tools) == {"list_notes", "read_note", "write_note", "delete_note"}
    policy = Policy(config)

    def decide(tool: str, **args: object) -> str:
        return policy.evaluate(Proposal(action=f"notes.{tool}", args=args,
                                        requested_by="U0REQUESTER",
                                        annotations=tools[tool])).decision

    assert decide("read_note", name="todo") == "allow"
    assert decide("write_note", name="todo", text="x") == "require_approval"
    assert decide("delete_note", name="runbook") == "deny"
    assert decide("delete_note", name="todo") == "require_approval"
