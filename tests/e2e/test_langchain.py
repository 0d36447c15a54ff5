"""LangChain's agent (``create_agent``, its fake chat model calling tools) behind
``SignoffMiddleware``: the run pauses with ``HumanInTheLoopMiddleware``'s interrupt, reviewers
decide on the real cards with signed clicks, and ``resume`` continues the run with the
decision that interrupt expects, over the embedded and the HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from bot.agent.client import ApprovalClient
from bot.integrations.langchain import resume
from bot.render import ACTION_APPROVE, ACTION_EDIT, ACTION_REJECT, ACTION_TAKE_OVER, REASON_BLOCK
from escalation.config import load_config
from store.ledger import Ledger
from store.models import Ticket, TicketStatus
from tests.e2e.conftest import EXAMPLE, Rig, running_rig, workspace
from tests.e2e.langchain_agent import REFUND, Tools, build, calls, config
from tests.e2e.test_reviews import settled

ASK = {"messages": [HumanMessage("cus_42 was charged twice, sort it out")]}
DONE = AIMessage("All sorted.")
TAKE_OVER_RULE = """
    - action: page_oncall
      decide: require_approval
      review: escalation
"""


@pytest.fixture
def rig(ledger: Ledger, tmp_path: Path) -> Iterator[Rig]:
    """The e2e rig, its policy plus one rule whose cards offer "Take over"."""
    text = EXAMPLE.read_text().replace("  rules:\n", "  rules:" + TAKE_OVER_RULE, 1)
    path = tmp_path / "signoff.yml"
    path.write_text(text)
    with running_rig(ledger, load_config(path), workspace()) as r:
        yield r


@pytest.fixture
def tools(tmp_path: Path) -> Tools:
    return Tools(tmp_path / "ran.jsonl")


def agent_for(client: ApprovalClient, tools: Tools, tmp_path: Path, *script: AIMessage) -> Any:
    return build(client, tools, tmp_path / "checkpoints.sqlite", [*script, DONE])


def paused(rig: Rig, agent: Any, thread: str) -> tuple[dict[str, Any], Ticket]:
    out = agent.invoke(ASK, config(thread))
    assert "__interrupt__" in out, "the run did not pause for review"
    tickets = rig.ledger.list_tickets()
    assert len(tickets) == 1
    return out["__interrupt__"][0].value, tickets[0]


def cards(rig: Rig) -> list[Any]:
    return [c for c in rig.sandbox.calls("chat.postMessage")
            if c.ok and "thread_ts" not in c.args]


def tool_messages(values: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in values["messages"] if isinstance(m, ToolMessage)]


def test_approve_runs_the_call_once_and_the_run_finishes(rig: Rig, client: ApprovalClient,
                                                         tools: Tools, tmp_path: Path) -> None:
    agent = agent_for(client, tools, tmp_path, calls(("issue_refund", REFUND),
                                                     text="customer was double charged"))
    value, ticket = paused(rig, agent, "run-approve")
    assert value["action_requests"] == [{"name": "issue_refund", "args": REFUND,
                                         "description": value["action_requests"][0]
                                         ["description"]}]
    assert ticket.id in value["action_requests"][0]["description"]
    assert value["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject",
                                                               "respond"]
    assert value["signoff"] == {"tickets": [ticket.id], "run_id": "run-approve"}
    assert ticket.run_id == "run-approve" and ticket.reason == "customer was double charged"
    assert tools.ran() == []  # nothing runs before the decision
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket.id)
    final = resume(agent, client, config=config("run-approve"), timeout=30)
    assert tools.ran() == [{"tool": "issue_refund", **REFUND}]
    assert [m.content for m in tool_messages(final)] == ["refunded 120 to cus_42"]
    assert final["messages"][-1].content == "All sorted."
    done = rig.ledger.get_ticket(ticket.id)
    assert done.status == TicketStatus.EXECUTED and done.outcome is not None
    assert done.outcome.ok and "refunded 120" in (done.outcome.summary or "")
    assert len(cards(rig)) == 1  # the resume filed nothing new
