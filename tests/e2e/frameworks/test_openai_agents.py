"""The OpenAI Agents SDK, its real Runner, with signoff deciding its tool approvals: a model
that needs no network calls the tools, cards go to the local Slack server, reviewers click
(signed requests to the real bot), and the run goes on from the decision."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from agents import Agent, Runner, RunState

from bot import ApprovalPending
from bot.agent.client import ApprovalClient
from bot.integrations.openai_agents import SignoffApprovals
from store.models import TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.frameworks.agents_model import ToolCallingModel
from tests.e2e.frameworks.decide import approve, cards, edit, expire, only_ticket, reject

REFUND = ("issue_refund", {"amount": 120, "customer": "cus_42"}, "call_refund_1")


class Tools:
    """Tools that record what really ran."""

    def __init__(self, signoff: SignoffApprovals) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []

        @signoff.function_tool()
        def issue_refund(amount: int, customer: str) -> str:
            """Refund a customer."""
            self.ran.append(("issue_refund", {"amount": amount, "customer": customer}))
            return f"refunded {amount} to {customer}"

        @signoff.function_tool()
        async def search_orders(q: str) -> str:
            """Search orders."""
            self.ran.append(("search_orders", {"q": q}))
            return f"2 orders for {q}"

        @signoff.function_tool()
        def drop_database(name: str) -> str:
            """Drop a database."""
            self.ran.append(("drop_database", {"name": name}))
            return "dropped"

        self.all = [issue_refund, search_orders, drop_database]


def setup(client: ApprovalClient, *calls: tuple[str, dict[str, Any], str],
          run_id: str = "run-7") -> tuple[SignoffApprovals, Tools, Agent[Any]]:
    signoff = SignoffApprovals(client, requested_by="U0REQUESTER", run_id=run_id,
                               timeout=10)
    tools = Tools(signoff)
    agent = Agent(name="refunds", model=ToolCallingModel(*calls), tools=tools.all)
    return signoff, tools, agent


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_approve_runs_the_tool_and_the_card_names_framework_and_run(
        rig: Rig, client: ApprovalClient) -> None:
    signoff, tools, agent = setup(client, REFUND)
    result = run(Runner.run(agent, "refund cus_42"))
    assert [i.name for i in result.interruptions] == ["issue_refund"]
    assert tools.ran == []
    ticket = only_ticket(rig)
    assert ticket.status == TicketStatus.PENDING and ticket.run_id == "run-7"
    assert ticket.agent  # embedded: the framework; over HTTP: the token's agent
    card = cards(rig)
    shown = json.dumps(card[0]["blocks"])
    assert len(card) == 1 and "run-7" in shown and "OpenAI Agents SDK" in shown
    approve(rig, ticket)
    done = run(signoff.resume(agent, result))
    assert done.interruptions == []
    assert tools.ran == [("issue_refund", {"amount": 120, "customer": "cus_42"})]
    assert done.final_output == "refunded 120 to cus_42"
    final = rig.ledger.get_ticket(ticket.id)
    assert final.status == TicketStatus.EXECUTED and final.outcome is not None
    assert final.outcome.ok and "refunded 120" in (final.outcome.summary or "")
    assert len(cards(rig)) == 1  # resuming filed nothing new


def test_the_card_says_which_framework_asked(rig: Rig) -> None:
    _signoff, _tools, agent = setup(rig.client, REFUND)
    run(Runner.run(agent, "refund"))
    ticket = only_ticket(rig)
    assert ticket.agent == "openai-agents"
    assert "openai-agents" in json.dumps(cards(rig)[0]["blocks"])


def test_an_edit_is_what_executes(rig: Rig, client: ApprovalClient) -> None:
    signoff, tools, agent = setup(client, REFUND)
    result = run(Runner.run(agent, "refund cus_42"))
    ticket = edit(rig, only_ticket(rig), {"amount": "80"})
    assert ticket.final_args == {"amount": 80, "customer": "cus_42"}
    done = run(signoff.resume(agent, result))
    assert tools.ran == [("issue_refund", {"amount": 80, "customer": "cus_42"})]
    assert done.final_output == "refunded 80 to cus_42"
    final = rig.ledger.get_ticket(ticket.id)
    assert final.status == TicketStatus.EXECUTED and final.final_args["amount"] == 80


def test_reject_tells_the_model_the_reason_and_nothing_runs(rig: Rig) -> None:
    signoff, tools, agent = setup(rig.client, REFUND)
    result = run(Runner.run(agent, "refund cus_42"))
    reject(rig, only_ticket(rig), "refund already issued")
    done = run(signoff.resume(agent, result))
    assert tools.ran == []
    assert "refund already issued" in done.final_output
    assert "U0PAYLEAD" in done.final_output


def test_expiry_is_a_rejection_saying_nothing_ran(rig: Rig) -> None:
    signoff, tools, agent = setup(rig.client, REFUND)
    result = run(Runner.run(agent, "refund cus_42"))
    expire(rig, only_ticket(rig))
    done = run(signoff.resume(agent, result))
    assert tools.ran == []
    assert "expired" in done.final_output and "nothing" in done.final_output


def test_allowed_tool_runs_without_a_pause_and_denied_without_a_card(
        rig: Rig, client: ApprovalClient) -> None:
    _signoff, tools, agent = setup(client, ("search_orders", {"q": "cus_42"}, "call_s"),
                                   ("drop_database", {"name": "prod"}, "call_d"))
    result = run(Runner.run(agent, "look up and clean up"))
    assert result.interruptions == []
    assert tools.ran == [("search_orders", {"q": "cus_42"})]
    assert "2 orders for cus_42" in result.final_output
    assert "never from an agent" in result.final_output
    assert cards(rig) == []
    (searched,) = rig.ledger.list_tickets()
    assert searched.action == "search_orders" and searched.status == TicketStatus.EXECUTED


def test_undecided_card_raises_pending_and_the_state_waits(rig: Rig) -> None:
    signoff, tools, agent = setup(rig.client, REFUND)
    result = run(Runner.run(agent, "refund cus_42"))
    with pytest.raises(ApprovalPending):
        run(signoff.resume(agent, result, timeout=0.2))
    assert tools.ran == []
    assert len(cards(rig)) == 1


def test_approving_in_the_sdk_alone_runs_nothing(rig: Rig) -> None:
    """A RunState approved behind signoff's back: the tool's body finds its ticket still
    pending and refuses."""
    _signoff, tools, agent = setup(rig.client, REFUND)
    result = run(Runner.run(agent, "refund cus_42"))
    state = result.to_state()
    for item in state.get_interruptions():
        state.approve(item)
    done = run(Runner.run(agent, state))
    assert tools.ran == []
    assert "waiting for a reviewer" in done.final_output
    assert only_ticket(rig).status == TicketStatus.PENDING


def test_a_fresh_agent_resumes_from_the_serialised_state(rig: Rig) -> None:
    _signoff, tools, agent = setup(rig.client, REFUND)
    result = run(Runner.run(agent, "refund cus_42"))
    saved = result.to_state().to_string()
    approve(rig, only_ticket(rig))
    signoff2, tools2, agent2 = setup(rig.client)  # a new process would build these again
    assert isinstance(run(RunState.from_string(agent2, saved)), RunState)
    done = run(signoff2.resume(agent2, saved))
    assert tools.ran == [] and tools2.ran == [("issue_refund", {"amount": 120,
                                                                "customer": "cus_42"})]
    assert done.final_output == "refunded 120 to cus_42"


def test_arguments_that_do_not_fit_the_tool_are_sent_back_without_a_card(rig: Rig) -> None:
    signoff, tools, agent = setup(rig.client, ("issue_refund", {"amount": "lots",
                                                                "customer": "cus_42"}, "c_bad"))
    result = run(Runner.run(agent, "refund"))
    done = run(signoff.resume(agent, result)) if result.interruptions else result
    assert tools.ran == [] and cards(rig) == []
    assert "amount" in done.final_output and "nothing" in done.final_output
