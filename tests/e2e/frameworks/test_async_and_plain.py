"""The adapters on the asyncio client (``AsyncApprovalClient`` to the gateway), a plain
``function_tool`` given only signoff's ``needs_approval``, and a reviewer's question."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents import Agent, Runner, function_tool
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai import DeferredToolRequests, FunctionToolset

from bot import ApprovalNeedsInfo, AsyncApprovalClient
from bot.integrations import openai_agents, pydantic_ai
from bot.render import ACTION_REQUEST_INFO, QUESTION_BLOCK
from store.models import TicketStatus
from tests.e2e.conftest import Gate, Rig
from tests.e2e.frameworks.agents_model import ToolCallingModel
from tests.e2e.frameworks.decide import approve, cards, edit, only_ticket
from tests.e2e.frameworks.pydantic_model import tool_calling_model
from tests.e2e.test_reviews import settled

REFUND = ("issue_refund", {"amount": 120, "customer": "cus_42"}, "call_refund_1")


def test_openai_agents_on_the_async_client(rig: Rig, gate: Gate) -> None:
    ran: list[dict[str, Any]] = []

    async def scenario() -> Any:
        async with AsyncApprovalClient(gate.url, gate.token) as client:
            signoff = openai_agents.SignoffApprovals(client, requested_by="U0REQUESTER",
                                                     run_id="async-1", timeout=10)

            @signoff.function_tool()
            async def issue_refund(amount: int, customer: str) -> str:
                ran.append({"amount": amount, "customer": customer})
                return f"refunded {amount}"

            agent = Agent(name="a", model=ToolCallingModel(REFUND), tools=[issue_refund])
            result = await Runner.run(agent, "refund")
            await asyncio.to_thread(edit, rig, only_ticket(rig), {"amount": "80"})
            return await signoff.resume(agent, result)

    done = asyncio.run(scenario())
    assert ran == [{"amount": 80, "customer": "cus_42"}] and done.final_output == "refunded 80"
    ticket = only_ticket(rig)
    assert ticket.status == TicketStatus.EXECUTED and ticket.agent == gate.agent


def test_pydantic_ai_on_the_async_client(rig: Rig, gate: Gate) -> None:
    ran: list[dict[str, Any]] = []

    def issue_refund(amount: int, customer: str) -> str:
        ran.append({"amount": amount, "customer": customer})
        return f"refunded {amount}"

    async def scenario() -> Any:
        async with AsyncApprovalClient(gate.url, gate.token) as client:
            signoff = pydantic_ai.SignoffApprovals(client, requested_by="U0REQUESTER",
                                                   run_id="async-2", timeout=10)
            agent: PydanticAgent[None, Any] = PydanticAgent(
                tool_calling_model(REFUND),
                toolsets=[signoff.toolset(FunctionToolset([issue_refund]))],
                output_type=[str, DeferredToolRequests])
            result = await agent.run("refund")
            await asyncio.to_thread(edit, rig, only_ticket(rig), {"amount": "80"})
            return await signoff.resume(agent, result)

    done = asyncio.run(scenario())
    assert ran == [{"amount": 80, "customer": "cus_42"}] and done.output == "refunded 80"
    assert only_ticket(rig).status == TicketStatus.EXECUTED


def _plain(rig: Rig, *calls: tuple[str, dict[str, Any], str]
           ) -> tuple[openai_agents.SignoffApprovals, list[dict[str, Any]], Agent[Any]]:
    signoff = openai_agents.SignoffApprovals(rig.client, requested_by="U0REQUESTER",
                                             run_id="plain-1", timeout=10)
    ran: list[dict[str, Any]] = []

    @function_tool(needs_approval=signoff.needs_approval("issue_refund"))
    def issue_refund(amount: int, customer: str) -> str:
        """Refund a customer."""
        ran.append({"amount": amount, "customer": customer})
        return f"refunded {amount}"

    @function_tool(needs_approval=signoff.needs_approval("drop_database"))
    def drop_database(name: str) -> str:
        """Drop a database."""
        ran.append({"name": name})
        return "dropped"

    agent = Agent(name="plain", model=ToolCallingModel(*calls),
                  tools=[issue_refund, drop_database])
    return signoff, ran, agent


def test_a_plain_tool_runs_an_unedited_approval_and_refuses_an_edit(rig: Rig) -> None:
    signoff, ran, agent = _plain(rig, REFUND)
    result = asyncio.run(Runner.run(agent, "refund"))
    approve(rig, only_ticket(rig))
    done = asyncio.run(signoff.resume(agent, result))
    assert ran == [{"amount": 120, "customer": "cus_42"}] and done.final_output == "refunded 120"
    assert only_ticket(rig).status == TicketStatus.EXECUTED

    signoff, ran, agent = _plain(rig, ("issue_refund", {"amount": 130, "customer": "cus_42"},
                                       "call_refund_2"))
    result = asyncio.run(Runner.run(agent, "refund"))
    pending = rig.ledger.list_tickets([TicketStatus.PENDING])
    edit(rig, pending[0], {"amount": "80"})
    done = asyncio.run(signoff.resume(agent, result))
    assert ran == []  # this tool could only have run 130
    assert '"amount": 80' in done.final_output and "nothing ran" in done.final_output


def test_a_plain_tool_policy_denies_is_rejected_without_a_card(rig: Rig) -> None:
    signoff, ran, agent = _plain(rig, ("drop_database", {"name": "prod"}, "call_d"))
    result = asyncio.run(Runner.run(agent, "clean up"))
    assert [i.name for i in result.interruptions] == ["drop_database"]
    done = asyncio.run(signoff.resume(agent, result))
    assert ran == [] and "never from an agent" in done.final_output
    assert cards(rig) == []


def test_a_reviewers_question_reaches_the_agent_then_the_answer_goes_back(rig: Rig) -> None:
    signoff, ran, agent = _plain(rig, REFUND)
    result = asyncio.run(Runner.run(agent, "refund"))
    ticket = only_ticket(rig)
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_REQUEST_INFO, channel="C0PAYMENTS")
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))
    rig.sandbox.submit("U0PAYLEAD", {QUESTION_BLOCK: {"signoff_question_value":
                                                      "which order?"}})
    settled(rig, ticket.id)
    with pytest.raises(ApprovalNeedsInfo) as asked:
        asyncio.run(signoff.resume(agent, result))
    assert asked.value.question == "which order?" and ran == []
    rig.client.answer(ticket.id, "order ord_7")
    approve(rig, rig.ledger.get_ticket(ticket.id))
    done = asyncio.run(signoff.resume(agent, result))
    assert ran == [{"amount": 120, "customer": "cus_42"}] and done.final_output == "refunded 120"


def test_a_plain_tool_on_the_async_client_is_claimed_once_and_recorded(rig: Rig,
                                                                        gate: Gate) -> None:
    ran: list[dict[str, Any]] = []

    async def scenario() -> tuple[Any, Any]:
        async with AsyncApprovalClient(gate.url, gate.token) as client:
            signoff = openai_agents.SignoffApprovals(client, requested_by="U0REQUESTER",
                                                     run_id="async-3", timeout=10)

            @function_tool(needs_approval=signoff.needs_approval("issue_refund"))
            def issue_refund(amount: int, customer: str) -> str:
                """Refund a customer."""
                ran.append({"amount": amount, "customer": customer})
                return f"refunded {amount}"

            agent = Agent(name="a", model=ToolCallingModel(REFUND), tools=[issue_refund])
            result = await Runner.run(agent, "refund")
            saved = result.to_state().to_string()
            await asyncio.to_thread(approve, rig, only_ticket(rig))
            return (await signoff.resume(agent, result), await signoff.resume(agent, saved))

    done, again = asyncio.run(scenario())
    assert ran == [{"amount": 120, "customer": "cus_42"}] and done.final_output == "refunded 120"
    assert "already executed" in again.final_output
    final = only_ticket(rig)
    assert final.status == TicketStatus.EXECUTED and final.outcome is not None
    assert "refunded 120" in (final.outcome.summary or "")
