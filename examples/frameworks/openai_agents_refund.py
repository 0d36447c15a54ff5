"""The OpenAI Agents SDK with signoff deciding its tool approvals, offline: a model that
needs no API key asks for a search, a refund and a database drop; Slack is the local
Slack-compatible server, and a reviewer edits the refund before approving it.

    python examples/frameworks/openai_agents_refund.py     # pip install "signoff[openai-agents]"

The one line that changes in the agent: ``@function_tool(needs_approval=True)`` becomes
``@signoff.function_tool()``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from agents import Agent, Model, ModelResponse, Runner, Usage, set_tracing_disabled
from agents.testing import assistant_message, function_call
from slack_rig import offline_slack

from bot.integrations.openai_agents import SignoffApprovals


class ScriptedModel(Model):
    """Stands in for the LLM: calls the three tools, then reports what they answered."""

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> ModelResponse:
        items = input if isinstance(input, list) else []
        outputs = [str(i["output"]) for i in items
                   if isinstance(i, dict) and i.get("type") == "function_call_output"]
        output = [assistant_message("\n".join(outputs))] if outputs else [
            function_call("search_orders", {"q": "cus_42"}, call_id="call_1"),
            function_call("issue_refund", {"amount": 120, "customer": "cus_42"},
                          call_id="call_2"),
            function_call("drop_database", {"name": "prod"}, call_id="call_3")]
        return ModelResponse(output=output, usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


def build(signoff: SignoffApprovals) -> Agent[Any]:
    @signoff.function_tool()
    def search_orders(q: str) -> str:
        """Search a customer's orders."""
        return f"2 orders for {q}"

    @signoff.function_tool()
    def issue_refund(amount: int, customer: str) -> str:
        """Refund a customer."""
        return f"refunded {amount} to {customer}"

    @signoff.function_tool()
    def drop_database(name: str) -> str:
        """Drop a database."""
        return f"dropped {name}"

    return Agent(name="refunds", model=ScriptedModel(),
                 tools=[search_orders, issue_refund, drop_database])


async def main() -> None:
    set_tracing_disabled(True)  # offline: no trace export either
    with offline_slack() as (client, slack):
        signoff = SignoffApprovals(client, requested_by="U0ALICE", run_id="order-42")
        agent = build(signoff)
        result = await Runner.run(agent, "cus_42 was double charged: sort it out")
        print("paused on:", [item.name for item in result.interruptions])
        saved = result.to_state().to_string()          # store it anywhere; resume anywhere

        ticket = slack.card()
        print("card in #payments:", ticket.action, json.dumps(ticket.args))
        ticket = await asyncio.to_thread(slack.reviewer_edits, ticket, amount="80")
        print("reviewer approved:", json.dumps(ticket.final_args))

        # Later, in any process: the same run_id, the agent built again, the saved state.
        again = SignoffApprovals(client, requested_by="U0ALICE", run_id="order-42")
        done = await again.resume(build(again), saved)
        print("agent says:")
        print(done.final_output)


if __name__ == "__main__":
    asyncio.run(main())
