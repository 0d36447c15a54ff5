"""Pydantic AI with signoff answering its deferred tool approvals, offline: a
``FunctionModel`` (no API key) asks for a search, a refund and a database drop; Slack is the
local Slack-compatible server, and a reviewer edits the refund before approving it.

    python examples/frameworks/pydantic_ai_refund.py       # pip install "signoff[pydantic-ai]"

The one line that changes in the agent: ``toolsets=[tools.approval_required()]`` becomes
``toolsets=[signoff.toolset(tools)]``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import TypeAdapter
from pydantic_ai import Agent, DeferredToolRequests, FunctionToolset
from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from slack_rig import offline_slack

from bot.integrations.pydantic_ai import SignoffApprovals

REQUESTS = TypeAdapter(DeferredToolRequests)


def scripted_model(messages: list[ModelMessage], _info: AgentInfo) -> ModelResponse:
    """Stands in for the LLM: calls the three tools, then reports what they answered."""
    last = messages[-1]
    returns = [str(p.content) for p in last.parts if isinstance(p, ToolReturnPart)] \
        if isinstance(last, ModelRequest) else []
    if returns:
        return ModelResponse(parts=[TextPart("\n".join(returns))])
    return ModelResponse(parts=[
        ToolCallPart("search_orders", {"q": "cus_42"}, tool_call_id="call_1"),
        ToolCallPart("issue_refund", {"amount": 120, "customer": "cus_42"},
                     tool_call_id="call_2"),
        ToolCallPart("drop_database", {"name": "prod"}, tool_call_id="call_3")])


def search_orders(q: str) -> str:
    """Search a customer's orders."""
    return f"2 orders for {q}"


def issue_refund(amount: int, customer: str) -> str:
    """Refund a customer."""
    return f"refunded {amount} to {customer}"


def drop_database(name: str) -> str:
    """Drop a database."""
    return f"dropped {name}"


def build(signoff: SignoffApprovals) -> Agent[None, Any]:
    tools = FunctionToolset([search_orders, issue_refund, drop_database])
    return Agent(FunctionModel(scripted_model), toolsets=[signoff.toolset(tools)],
                 output_type=[str, DeferredToolRequests])


async def main() -> None:
    with offline_slack() as (client, slack):
        signoff = SignoffApprovals(client, requested_by="U0ALICE", run_id="order-42")
        result = await build(signoff).run("cus_42 was double charged: sort it out")
        assert isinstance(result.output, DeferredToolRequests)
        print("deferred:", [part.tool_name for part in result.output.approvals])
        saved = (result.all_messages_json(), REQUESTS.dump_json(result.output))

        ticket = slack.card()
        print("card in #payments:", ticket.action, json.dumps(ticket.args))
        ticket = await asyncio.to_thread(slack.reviewer_edits, ticket, amount="80")
        print("reviewer approved:", json.dumps(ticket.final_args))

        # Later, in any process: the same run_id, the agent built again, the saved run.
        again = SignoffApprovals(client, requested_by="U0ALICE", run_id="order-42")
        done = await again.resume(build(again), ModelMessagesTypeAdapter.validate_json(saved[0]),
                                  REQUESTS.validate_json(saved[1]))
        print("agent says:")
        print(done.output)


if __name__ == "__main__":
    asyncio.run(main())
