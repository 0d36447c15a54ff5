"""A paused run survives its process: one process runs the agent until signoff pauses it and
saves the framework's own state; a reviewer decides in Slack; a new process loads the state
and runs on. Over both transports: embedded, and HTTP to the gateway (a token only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from store.models import TicketStatus
from tests.e2e.conftest import EXAMPLE, Gate, Rig, running_gateway
from tests.e2e.frameworks.decide import edit, only_ticket

ROOT = Path(__file__).parents[3]

COMMON = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    from bot import ApprovalClient
    phase, state, log = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    CALL = ("issue_refund", {"amount": 120, "customer": "cus_42"}, "call_refund_1")

    def issue_refund(amount: int, customer: str) -> str:
        \"\"\"Refund a customer.\"\"\"
        with log.open("a") as f:
            f.write(json.dumps({"amount": amount, "customer": customer}) + "\\n")
        return f"refunded {amount} to {customer}"
""")

OPENAI_AGENT = COMMON + textwrap.dedent("""
    from agents import Agent, Runner
    from bot.integrations.openai_agents import SignoffApprovals
    from tests.e2e.frameworks.agents_model import ToolCallingModel

    signoff = SignoffApprovals(ApprovalClient.from_env(), requested_by="U0REQUESTER",
                               run_id="order-42", timeout=10)
    agent = Agent(name="refunds", model=ToolCallingModel(CALL),
                  tools=[signoff.function_tool()(issue_refund)])

    async def main() -> dict:
        if phase == "propose":
            result = await Runner.run(agent, "refund cus_42")
            state.write_text(result.to_state().to_string())
            return {"paused": [i.call_id for i in result.interruptions]}
        done = await signoff.resume(agent, state.read_text())
        return {"output": done.final_output}

    print(json.dumps(asyncio.run(main())))
""")

PYDANTIC_AGENT = COMMON + textwrap.dedent("""
    from pydantic import TypeAdapter
    from pydantic_ai import Agent, DeferredToolRequests, FunctionToolset
    from pydantic_ai.messages import ModelMessagesTypeAdapter
    from bot.integrations.pydantic_ai import SignoffApprovals
    from tests.e2e.frameworks.pydantic_model import tool_calling_model

    REQUESTS = TypeAdapter(DeferredToolRequests)
    signoff = SignoffApprovals(ApprovalClient.from_env(), requested_by="U0REQUESTER",
                               run_id="order-42", timeout=10)
    agent = Agent(tool_calling_model(CALL),
                  toolsets=[signoff.toolset(FunctionToolset([issue_refund]))],
                  output_type=[str, DeferredToolRequests])

    async def main() -> dict:
        if phase == "propose":
            result = await agent.run("refund cus_42")
            state.write_text(json.dumps({
                "messages": result.all_messages_json().decode(),
                "requests": REQUESTS.dump_json(result.output).decode()}))
            return {"paused": [p.tool_call_id for p in result.output.approvals]}
        saved = json.loads(state.read_text())
        done = await signoff.resume(agent,
                                    ModelMessagesTypeAdapter.validate_json(saved["messages"]),
                                    REQUESTS.validate_json(saved["requests"]))
        return {"output": done.output}

    print(json.dumps(asyncio.run(main())))
""")


def _embedded_env(rig: Rig, db_url: str) -> dict[str, str]:
    return {"SIGNOFF_DATABASE_URL": db_url, "SIGNOFF_CONFIG": str(EXAMPLE),
            "SLACK_BOT_TOKEN": rig.sandbox.bot_token, "SLACK_API_URL": rig.sandbox.api_url}


def _http_env(gate: Gate) -> dict[str, str]:
    return {"SIGNOFF_URL": gate.url, "SIGNOFF_AGENT_TOKEN": gate.token,
            "SIGNOFF_DATABASE_URL": "sqlite:////nonexistent/never-opened.db"}


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["openai-agents", "pydantic-ai"])
@pytest.mark.parametrize("transport", ["embedded", "http"])
def test_a_new_process_runs_the_edited_call_after_the_decision(
        rig: Rig, db_url: str, tmp_path: Path, framework: str, transport: str) -> None:
    script = OPENAI_AGENT if framework == "openai-agents" else PYDANTIC_AGENT
    if transport == "http":
        with running_gateway(rig, db_url) as gate:
            _two_processes(rig, tmp_path, script, _http_env(gate))
    else:
        _two_processes(rig, tmp_path, script, _embedded_env(rig, db_url))


def _two_processes(rig: Rig, tmp_path: Path, script: str, extra: dict[str, str]) -> None:
    path, state, log = tmp_path / "agent.py", tmp_path / "state.json", tmp_path / "ran.jsonl"
    path.write_text(script)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNOFF_", "SLACK_"))}
    env = {**base, "PYTHONPATH": str(ROOT), **extra}

    def agent(phase: str) -> dict[str, Any]:
        out = subprocess.run([sys.executable, str(path), phase, str(state), str(log)],
                             env=env, text=True, capture_output=True, timeout=120)
        assert out.returncode == 0, out.stderr
        doc: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return doc

    assert agent("propose") == {"paused": ["call_refund_1"]}
    assert not log.exists() and state.exists()
    ticket = edit(rig, only_ticket(rig), {"amount": "80"})
    assert agent("resume") == {"output": "refunded 80 to cus_42"}
    assert log.read_text().splitlines() == ['{"amount": 80, "customer": "cus_42"}']
    final = rig.ledger.get_ticket(ticket.id)
    assert final.status == TicketStatus.EXECUTED and final.run_id == "order-42"
