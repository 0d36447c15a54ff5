"""Pydantic AI's real agent loop, with signoff answering its deferred tool approvals: a
``FunctionModel`` calls the tools, cards go to the local Slack server, reviewers click
(signed requests to the real bot), and the next run carries the decisions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import TypeAdapter
from pydantic_ai import (
    Agent,
    DeferredToolRequests,
    DeferredToolResults,
    FunctionToolset,
    ToolApproved,
)
from pydantic_ai.messages import ModelMessagesTypeAdapter

from bot import ApprovalPending
from bot.agent.client import ApprovalClient
from bot.integrations.pydantic_ai import TICKET, SignoffApprovals
from bot.render import ACTION_APPROVE
from store.models import TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.frameworks.decide import approve, cards, edit, expire, only_ticket, reject
from tests.e2e.frameworks.pydantic_model import tool_calling_model
from tests.e2e.test_reviews import settled

REFUND = ("issue_refund", {"amount": 120, "customer": "cus_42"}, "call_refund_1")
REQUESTS = TypeAdapter(DeferredToolRequests)


class Tools:
    """Tools that record what really ran."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []

        def issue_refund(amount: int, customer: str) -> str:
            """Refund a customer."""
            self.ran.append(("issue_refund", {"amount": amount, "customer": customer}))
            return f"refunded {amount} to {customer}"

        async def search_orders(q: str) -> str:
            """Search orders."""
            self.ran.append(("search_orders", {"q": q}))
            return f"2 orders for {q}"

        def drop_database(name: str) -> str:
            """Drop a database."""
            self.ran.append(("drop_database", {"name": name}))
            return "dropped"

        self.toolset = FunctionToolset([issue_refund, search_orders, drop_database])


def setup(client: ApprovalClient, *calls: tuple[str, dict[str, Any], str]
          ) -> tuple[SignoffApprovals, Tools, Agent[None, Any]]:
    signoff = SignoffApprovals(client, requested_by="U0REQUESTER", run_id="run-9", timeout=10)
    tools = Tools()
    agent: Agent[None, Any] = Agent(tool_calling_model(*calls),
                                    toolsets=[signoff.toolset(tools.toolset)],
                                    output_type=[str, DeferredToolRequests])
    return signoff, tools, agent


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_approve_runs_the_tool_once_with_the_card_naming_framework_and_run(
        rig: Rig, client: ApprovalClient) -> None:
    signoff, tools, agent = setup(client, REFUND)
    result = run(agent.run("refund cus_42"))
    assert isinstance(result.output, DeferredToolRequests)
    assert [p.tool_name for p in result.output.approvals] == ["issue_refund"]
    ticket = only_ticket(rig)
    assert result.output.metadata["call_refund_1"][TICKET] == ticket.id
    assert ticket.run_id == "run-9" and tools.ran == []
    shown = json.dumps(cards(rig)[0]["blocks"])
    assert "run-9" in shown and "Pydantic AI" in shown
    approve(rig, ticket)
    done = run(signoff.resume(agent, result))
    assert done.output == "refunded 120 to cus_42"
    assert tools.ran == [("issue_refund", {"amount": 120, "customer": "cus_42"})]
    final = rig.ledger.get_ticket(ticket.id)
    assert final.status == TicketStatus.EXECUTED and final.outcome is not None
    assert final.outcome.ok and len(cards(rig)) == 1


def test_the_card_says_which_framework_asked(rig: Rig) -> None:
    _signoff, _tools, agent = setup(rig.client, REFUND)
    run(agent.run("refund"))
    assert only_ticket(rig).agent == "pydantic-ai"
    assert "pydantic-ai" in json.dumps(cards(rig)[0]["blocks"])


def test_an_edit_becomes_override_args_and_is_what_executes(rig: Rig,
                                                            client: ApprovalClient) -> None:
    signoff, tools, agent = setup(client, REFUND)
    result = run(agent.run("refund cus_42"))
    ticket = edit(rig, only_ticket(rig), {"amount": "80"})
    answers = run(signoff.results(result.output))
    approved = answers.approvals["call_refund_1"]
    assert approved.override_args == {"amount": 80, "customer": "cus_42"}
    done = run(agent.run(message_history=result.all_messages(), deferred_tool_results=answers))
    assert tools.ran == [("issue_refund", {"amount": 80, "customer": "cus_42"})]
    assert done.output == "refunded 80 to cus_42"
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.EXECUTED


def test_reject_is_tool_denied_with_the_reason(rig: Rig) -> None:
    signoff, tools, agent = setup(rig.client, REFUND)
    result = run(agent.run("refund cus_42"))
    reject(rig, only_ticket(rig), "refund already issued")
    answers = run(signoff.results(result.output))
    denied = answers.approvals["call_refund_1"]
    assert "refund already issued" in denied.message and "U0PAYLEAD" in denied.message
    done = run(signoff.resume(agent, result))
    assert tools.ran == [] and "refund already issued" in done.output


def test_expiry_is_tool_denied_saying_nothing_ran(rig: Rig) -> None:
    signoff, tools, agent = setup(rig.client, REFUND)
    result = run(agent.run("refund cus_42"))
    expire(rig, only_ticket(rig))
    done = run(signoff.resume(agent, result))
    assert tools.ran == []
    assert "expired" in done.output and "nothing" in done.output


def test_allowed_runs_without_a_pause_and_denied_without_a_card(
        rig: Rig, client: ApprovalClient) -> None:
    _signoff, tools, agent = setup(client, ("search_orders", {"q": "cus_42"}, "call_s"),
                                   ("drop_database", {"name": "prod"}, "call_d"))
    result = run(agent.run("look up and clean up"))
    assert isinstance(result.output, str)
    assert tools.ran == [("search_orders", {"q": "cus_42"})]
    assert "2 orders for cus_42" in result.output and "never from an agent" in result.output
    assert cards(rig) == []
    (searched,) = rig.ledger.list_tickets()
    assert searched.action == "search_orders" and searched.status == TicketStatus.EXECUTED


def test_undecided_raises_pending(rig: Rig) -> None:
    signoff, tools, agent = setup(rig.client, REFUND)
    result = run(agent.run("refund cus_42"))
    with pytest.raises(ApprovalPending):
        run(signoff.resume(agent, result, timeout=0.2))
    assert tools.ran == []


def test_approval_given_outside_signoff_runs_nothing(rig: Rig) -> None:
    _signoff, tools, agent = setup(rig.client, REFUND)
    result = run(agent.run("refund cus_42"))
    done = run(agent.run(message_history=result.all_messages(),
                         deferred_tool_results=DeferredToolResults(
                             approvals={"call_refund_1": True})))
    assert tools.ran == [] and "outside signoff" in done.output
    assert only_ticket(rig).status == TicketStatus.PENDING


def test_another_calls_approved_ticket_runs_nothing(rig: Rig) -> None:
    """Hand-made results naming another call's approved ticket, with its exact arguments."""
    _signoff, tools, agent = setup(rig.client, REFUND)
    result = run(agent.run("refund cus_42"))
    other = rig.client.request("issue_refund", {"amount": 999, "customer": "cus_42"},
                               reason="x", requested_by="U0REQUESTER")
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert settled(rig, other.id).status == TicketStatus.APPROVED
    done = run(agent.run(message_history=result.all_messages(),
                         deferred_tool_results=DeferredToolResults(
                             approvals={"call_refund_1": ToolApproved(
                                 override_args={"amount": 999, "customer": "cus_42"})},
                             metadata={"call_refund_1": {TICKET: other.id}})))
    assert tools.ran == [] and "not filed for this call" in done.output
    assert rig.ledger.get_ticket(other.id).status == TicketStatus.APPROVED


def test_a_swapped_ticket_or_changed_arguments_are_denied(rig: Rig) -> None:
    """The deferred request is checked against the ticket filed for that very call: another
    approved ticket's id, or arguments changed in the saved history, answer ToolDenied."""
    signoff, tools, agent = setup(rig.client, REFUND)
    result = run(agent.run("refund cus_42"))
    ticket = approve(rig, only_ticket(rig))
    other = rig.client.request("issue_refund", {"amount": 999, "customer": "cus_42"},
                               reason="x", requested_by="U0REQUESTER")
    requests: DeferredToolRequests = result.output
    swapped = DeferredToolRequests(approvals=requests.approvals,
                                   metadata={"call_refund_1": {TICKET: other.id}})
    denied = run(signoff.results(swapped)).approvals["call_refund_1"]
    assert "filed for another call" in denied.message
    changed = DeferredToolRequests(
        approvals=[requests.approvals[0].__class__(
            "issue_refund", {"amount": 5000, "customer": "cus_42"},
            tool_call_id="call_refund_1")],
        metadata=requests.metadata)
    denied = run(signoff.results(changed)).approvals["call_refund_1"]
    assert "not the ones filed" in denied.message
    assert tools.ran == [] and rig.ledger.get_ticket(ticket.id).status == TicketStatus.APPROVED


def test_a_fresh_agent_resumes_from_serialised_messages(rig: Rig) -> None:
    _signoff, tools, agent = setup(rig.client, REFUND)
    result = run(agent.run("refund cus_42"))
    saved_messages = result.all_messages_json()
    saved_requests = REQUESTS.dump_json(result.output)
    approve(rig, only_ticket(rig))
    signoff2, tools2, agent2 = setup(rig.client)  # what another process would build
    done = run(signoff2.resume(agent2, ModelMessagesTypeAdapter.validate_json(saved_messages),
                               REQUESTS.validate_json(saved_requests)))
    assert tools.ran == []
    assert tools2.ran == [("issue_refund", {"amount": 120, "customer": "cus_42"})]
    assert done.output == "refunded 120 to cus_42"
