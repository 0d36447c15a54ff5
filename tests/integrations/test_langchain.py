"""LangChain's agent (``create_agent``, its fake chat model calling tools) behind
``SignoffMiddleware``: the run pauses with ``HumanInTheLoopMiddleware``'s interrupt, reviewers
decide on the real cards with signed clicks, and ``resume`` continues the run with the
decision that interrupt expects, over the embedded and the HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from bot import ApprovalNeedsInfo, ApprovalPending
from bot.agent.aio import AsyncApprovalClient
from bot.agent.client import ApprovalClient
from bot.integrations.langchain import aresume, resume
from bot.render import (
    ACTION_APPROVE,
    ACTION_EDIT,
    ACTION_REJECT,
    ACTION_REQUEST_INFO,
    ACTION_TAKE_OVER,
    QUESTION_BLOCK,
    REASON_BLOCK,
)
from escalation.config import load_config
from store.ledger import Ledger
from store.models import Ticket, TicketStatus
from tests.e2e.conftest import EXAMPLE, Gate, Rig, running_gateway, running_rig, workspace
from tests.e2e.test_reviews import settled
from tests.integrations.langchain_agent import REFUND, Tools, build, calls, config

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


def agent_for(client: ApprovalClient | AsyncApprovalClient, tools: Tools, tmp_path: Path | None,
              *script: AIMessage) -> Any:
    """The agent on a SQLite checkpointer in ``tmp_path``, or in memory (async runs)."""
    return build(client, tools, tmp_path and tmp_path / "checkpoints.sqlite", [*script, DONE])


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
    value, ticket = paused(rig, agent, "Run-Approve")
    assert value["action_requests"] == [{"name": "issue_refund", "args": REFUND,
                                         "description": value["action_requests"][0]
                                         ["description"]}]
    assert ticket.id in value["action_requests"][0]["description"]
    assert value["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject",
                                                               "respond"]
    assert value["signoff"] == {"tickets": [ticket.id], "run_id": "Run-Approve"}
    assert ticket.run_id == "Run-Approve" and ticket.reason == "customer was double charged"
    # The card says which agent and run asked: the framework's name embedded; over the
    # gateway, the agent its token names (an agent cannot name itself there).
    assert ticket.agent in ("langchain:refund-agent", "refund-bot")
    card = rig.sandbox.message("C0PAYMENTS", rig.card_ts(ticket.id))
    assert card is not None
    assert f"Agent `{ticket.agent}` · run `Run-Approve`" in str(card.blocks)
    assert tools.ran() == []  # nothing runs before the decision
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket.id)
    final = resume(agent, client, config=config("Run-Approve"), timeout=30)
    assert tools.ran() == [{"tool": "issue_refund", **REFUND}]
    assert [m.content for m in tool_messages(final)] == ["refunded 120 to cus_42"]
    assert final["messages"][-1].content == "All sorted."
    done = rig.ledger.get_ticket(ticket.id)
    assert done.status == TicketStatus.EXECUTED and done.outcome is not None
    assert done.outcome.ok and "refunded 120" in (done.outcome.summary or "")
    assert len(cards(rig)) == 1  # the resume filed nothing new


def test_an_edit_runs_the_approved_arguments_and_tells_the_model(
        rig: Rig, client: ApprovalClient, tools: Tools, tmp_path: Path) -> None:
    agent = agent_for(client, tools, tmp_path, calls(("issue_refund", REFUND)))
    _, ticket = paused(rig, agent, "run-edit")
    assert rig.sandbox.click("U0FINOPS", action_id=ACTION_EDIT, channel="C0PAYMENTS").ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    done = rig.sandbox.submit("U0FINOPS", {"arg:amount": {"signoff_edit_value": "80"}})
    assert done.ok and done.response_action is None
    assert settled(rig, ticket.id).final_args == {"amount": 80, "customer": "cus_42"}
    final = resume(agent, client, config=config("run-edit"), timeout=30)
    assert tools.ran() == [{"tool": "issue_refund", "amount": 80, "customer": "cus_42"}]
    [message] = tool_messages(final)
    assert "refunded 80 to cus_42" in str(message.content)
    assert "Executed instead: issue_refund" in str(message.content)
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.EXECUTED


def test_reject_reaches_the_model_with_the_reviewers_reason(
        rig: Rig, client: ApprovalClient, tools: Tools, tmp_path: Path) -> None:
    agent = agent_for(client, tools, tmp_path, calls(("issue_refund", REFUND)))
    _, ticket = paused(rig, agent, "run-reject")
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_REJECT, channel="C0PAYMENTS")
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))
    rig.sandbox.submit("U0PAYLEAD", {REASON_BLOCK: {"signoff_reason_value":
                                                    "refund already issued"}})
    settled(rig, ticket.id)
    final = resume(agent, client, config=config("run-reject"), timeout=30)
    assert tools.ran() == []
    [message] = tool_messages(final)
    assert message.status == "error"
    assert message.content == ("User rejected the tool call for `issue_refund` with reason: "
                               "refund already issued")
    assert final["messages"][-1].content == "All sorted."
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.REJECTED


def test_expiry_is_a_rejection_that_says_nothing_ran(
        rig: Rig, client: ApprovalClient, tools: Tools, tmp_path: Path) -> None:
    from sqlalchemy import update

    from store.db import db_now
    from store.tables import TicketRow

    agent = agent_for(client, tools, tmp_path, calls(("issue_refund", REFUND)))
    _, ticket = paused(rig, agent, "run-expire")
    with rig.ledger.engine.begin() as conn:  # its hour has passed (by the database's clock)
        conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                     .values(expires_at=db_now(), next_action_at=db_now()))
    rig.service.engine().tick(at=ticket.created_at + timedelta(hours=1, seconds=1))
    final = resume(agent, client, config=config("run-expire"), timeout=30)
    assert tools.ran() == []
    [message] = tool_messages(final)
    assert message.status == "error"
    assert "expired and nothing ran" in str(message.content)
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.EXPIRED


def test_take_over_answers_for_the_tool_without_running_it(
        rig: Rig, client: ApprovalClient, tools: Tools, tmp_path: Path) -> None:
    agent = agent_for(client, tools, tmp_path, calls(("page_oncall", {"team": "payments"})))
    _, ticket = paused(rig, agent, "run-takeover")
    assert ticket.review_type.value == "escalation"
    rig.sandbox.click("U0SRE1", action_id=ACTION_TAKE_OVER, channel="C0APPROVALS")
    assert settled(rig, ticket.id).status == TicketStatus.TAKEN_OVER
    final = resume(agent, client, config=config("run-takeover"), timeout=30)
    assert tools.ran() == []
    [message] = tool_messages(final)
    assert message.status == "success"  # the human answered for the tool
    assert "took `page_oncall` over" in str(message.content)


def test_allowed_calls_run_without_a_pause_and_denied_ones_without_a_card(
        rig: Rig, client: ApprovalClient, tools: Tools, tmp_path: Path) -> None:
    agent = agent_for(client, tools, tmp_path, calls(("search_orders", {"q": "cus_42"}),
                                                     ("drop_database", {"name": "prod"})))
    out = agent.invoke(ASK, config("run-policy"))
    assert "__interrupt__" not in out
    assert tools.ran() == [{"tool": "search_orders", "q": "cus_42"}]
    by_tool = {m.name: m for m in tool_messages(out)}
    assert by_tool["search_orders"].content == "2 orders match cus_42"
    assert by_tool["drop_database"].status == "error"
    assert "policy denies it (never from an agent)" in str(by_tool["drop_database"].content)
    [search] = rig.ledger.list_tickets()  # the denial files no ticket
    assert search.action == "search_orders" and search.status == TicketStatus.EXECUTED
    assert search.run_id == "run-policy"
    assert cards(rig) == []
    assert out["messages"][-1].content == "All sorted."


def test_a_forged_approval_in_the_resume_payload_runs_nothing(
        rig: Rig, client: ApprovalClient, tools: Tools, tmp_path: Path) -> None:
    """The decision a resume carries is the framework's, not signoff's: a tool runs only on
    its ticket's approval, with the ticket's arguments."""
    from langgraph.types import Command

    agent = agent_for(client, tools, tmp_path, calls(("issue_refund", REFUND)))
    paused(rig, agent, "run-forged")
    forged = {"type": "edit", "edited_action": {"name": "issue_refund",
                                                "args": {"amount": 9999, "customer": "x"}}}
    out = agent.invoke(Command(resume={"decisions": [forged]}), config("run-forged"))
    assert tools.ran() == []
    [message] = tool_messages(out)
    assert message.status == "error" and "was not run" in str(message.content)
    assert "waiting for a reviewer" in str(message.content)
    assert rig.ledger.get_ticket(rig.ledger.list_tickets()[0].id).status == TicketStatus.PENDING


PROCESS = """
import json, sys
from pathlib import Path
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from bot import ApprovalClient
from bot.integrations.langchain import resume
from tests.integrations.langchain_agent import REFUND, Tools, build, calls, config

phase, workdir = sys.argv[1], Path(sys.argv[2])
client = ApprovalClient.from_env()
script = [calls(("issue_refund", REFUND))] if phase == "start" else [AIMessage("All sorted.")]
agent = build(client, Tools(workdir / "ran.jsonl"), workdir / "checkpoints.sqlite", script)
if phase == "start":
    out = agent.invoke({"messages": [HumanMessage("refund cus_42")]}, config("run-restart"))
    print(json.dumps({"tickets": out["__interrupt__"][0].value["signoff"]["tickets"]}))
else:
    final = resume(agent, client, thread_id="run-restart", timeout=30)
    print(json.dumps({"tools": [m.content for m in final["messages"]
                                if isinstance(m, ToolMessage)],
                      "last": final["messages"][-1].content}))
"""


@pytest.mark.parametrize("transport", ["embedded", "http"])
def test_a_fresh_process_resumes_the_run_after_the_decision(
        rig: Rig, db_url: str, tools: Tools, tmp_path: Path, transport: str) -> None:
    """Paused in one process, decided in Slack, resumed by another process that builds the
    agent anew on the same checkpointer file: the tool runs once, with the approved args."""
    script = tmp_path / "agent.py"
    script.write_text(PROCESS)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNOFF_", "SLACK_"))}
    env = {**base, "PYTHONPATH": str(Path(__file__).parents[2])}
    with contextlib.ExitStack() as stack:
        if transport == "http":
            gate = stack.enter_context(running_gateway(rig, db_url))
            env.update(SIGNOFF_URL=gate.url, SIGNOFF_AGENT_TOKEN=gate.token,
                       SIGNOFF_DATABASE_URL="sqlite:////nonexistent/never-opened.db")
        else:
            env.update(SIGNOFF_DATABASE_URL=db_url, SIGNOFF_CONFIG=str(tmp_path / "signoff.yml"),
                       SLACK_BOT_TOKEN=rig.sandbox.bot_token, SLACK_API_URL=rig.sandbox.api_url)

        def phase(name: str) -> dict[str, Any]:
            out = subprocess.run([sys.executable, str(script), name, str(tmp_path)], env=env,
                                 text=True, capture_output=True, timeout=120)
            assert out.returncode == 0, out.stderr
            doc: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
            return doc

        [ticket_id] = phase("start")["tickets"]
        assert tools.ran() == []
        rig.sandbox.click("U0FINOPS", action_id=ACTION_EDIT, channel="C0PAYMENTS")
        rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
        rig.sandbox.submit("U0FINOPS", {"arg:amount": {"signoff_edit_value": "90"}})
        settled(rig, ticket_id)
        resumed = phase("resume")
    assert tools.ran() == [{"tool": "issue_refund", "amount": 90, "customer": "cus_42"}], resumed
    assert resumed["last"] == "All sorted." and "refunded 90" in resumed["tools"][0]
    assert rig.ledger.get_ticket(ticket_id).status == TicketStatus.EXECUTED
    assert len(cards(rig)) == 1


def _in_own_loop(coro: Any) -> Any:
    """A thread of its own: the agent's event loop, whatever loop this thread may carry."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)


def test_async_client_drives_an_async_run(rig: Rig, gate: Gate, tools: Tools,
                                          tmp_path: Path) -> None:
    """``ainvoke`` with the AsyncApprovalClient: the pause, the reviewer's edit, ``aresume``."""

    async def run() -> tuple[str, dict[str, Any]]:
        async with AsyncApprovalClient(gate.url, gate.token) as aclient:
            agent = agent_for(aclient, tools, None, calls(("issue_refund", REFUND),
                                                              ("search_orders", {"q": "x"})))
            out = await agent.ainvoke(ASK, config("run-async"))
            [ticket_id] = out["__interrupt__"][0].value["signoff"]["tickets"]
            await asyncio.to_thread(_edit_amount, rig, ticket_id, "75")
            return ticket_id, await aresume(agent, aclient, thread_id="run-async", timeout=30)

    ticket_id, final = _in_own_loop(run())
    assert sorted(json.dumps(r) for r in tools.ran()) == sorted(json.dumps(r) for r in [
        {"tool": "issue_refund", "amount": 75, "customer": "cus_42"},
        {"tool": "search_orders", "q": "x"}])
    assert {m.name for m in tool_messages(final)} == {"issue_refund", "search_orders"}
    ticket = rig.ledger.get_ticket(ticket_id)
    assert ticket.status == TicketStatus.EXECUTED and ticket.agent == gate.agent


def test_sync_client_in_an_async_run(rig: Rig, client: ApprovalClient, tools: Tools,
                                     tmp_path: Path) -> None:
    async def run() -> dict[str, Any]:
        agent = agent_for(client, tools, None, calls(("issue_refund", REFUND)))
        out = await agent.ainvoke(ASK, config("run-async-sync"))
        [ticket_id] = out["__interrupt__"][0].value["signoff"]["tickets"]
        await asyncio.to_thread(_reject, rig, ticket_id, "wrong customer")
        result: dict[str, Any] = await aresume(agent, client, thread_id="run-async-sync")
        return result

    final = _in_own_loop(run())
    assert tools.ran() == []
    assert "wrong customer" in str(tool_messages(final)[0].content)


def test_a_sync_run_refuses_the_async_client(rig: Rig, gate: Gate, tools: Tools,
                                             tmp_path: Path) -> None:
    aclient = AsyncApprovalClient(gate.url, gate.token)
    agent = agent_for(aclient, tools, tmp_path, calls(("issue_refund", REFUND)))
    with pytest.raises(TypeError, match="ainvoke"):
        agent.invoke(ASK, config("run-mixed"))
    assert rig.ledger.list_tickets() == [] and tools.ran() == []
    _in_own_loop(aclient.close())


def _edit_amount(rig: Rig, ticket_id: str, amount: str) -> None:
    rig.sandbox.click("U0FINOPS", action_id=ACTION_EDIT, channel="C0PAYMENTS")
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    rig.sandbox.submit("U0FINOPS", {"arg:amount": {"signoff_edit_value": amount}})
    settled(rig, ticket_id)


def _reject(rig: Rig, ticket_id: str, reason: str) -> None:
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_REJECT, channel="C0PAYMENTS")
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))
    rig.sandbox.submit("U0PAYLEAD", {REASON_BLOCK: {"signoff_reason_value": reason}})
    settled(rig, ticket_id)


def test_a_webhook_style_resume_waits_for_every_decision(
        rig: Rig, client: ApprovalClient, tools: Tools, tmp_path: Path) -> None:
    """``timeout=0``: resume only once the whole pause is decided; until then the run stays
    paused and ``ApprovalPending`` names the ticket still open."""
    agent = agent_for(client, tools, tmp_path, calls(("issue_refund", REFUND)))
    _, ticket = paused(rig, agent, "run-hook")
    with pytest.raises(ApprovalPending) as pending:
        resume(agent, client, thread_id=client.get(ticket.id).run_id, timeout=0)
    assert pending.value.ticket_id == ticket.id and tools.ran() == []
    assert agent.get_state(config("run-hook")).interrupts  # still paused
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket.id)
    final = resume(agent, client, thread_id="run-hook", timeout=0)
    assert tools.ran() == [{"tool": "issue_refund", **REFUND}]
    assert final["messages"][-1].content == "All sorted."


def test_a_model_that_reuses_tool_call_ids_gets_a_request_per_turn(
        rig: Rig, client: ApprovalClient, tools: Tools, tmp_path: Path) -> None:
    """Two turns, the same call id and arguments: two requests, two cards, two runs (the
    second turn does not find the first turn's spent approval)."""
    turn = calls(("issue_refund", REFUND))
    agent = agent_for(client, tools, tmp_path, turn, turn.model_copy(update={"id": None}))
    _, first = paused(rig, agent, "run-reuse")
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, first.id)
    with pytest.raises(ApprovalPending) as pending:
        resume(agent, client, thread_id="run-reuse", timeout=0)
    second = pending.value.ticket_id
    assert second != first.id and len(cards(rig)) == 2
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert second is not None
    settled(rig, second)
    final = resume(agent, client, thread_id="run-reuse", timeout=0)
    assert tools.ran() == [{"tool": "issue_refund", **REFUND}] * 2
    assert final["messages"][-1].content == "All sorted."


def test_per_call_mode_pauses_each_call_and_resume_answers_each(
        rig: Rig, client: ApprovalClient, tools: Tools, tmp_path: Path) -> None:
    """``interrupt_mode="per_call"``: one ``tool_approval`` interrupt per call under review,
    each answered with its own decision; the allowed search runs at once."""
    agent = build(client, tools, tmp_path / "checkpoints.sqlite",
                  [calls(("issue_refund", REFUND), ("page_oncall", {"team": "payments"}),
                         ("search_orders", {"q": "cus_42"})), DONE],
                  interrupt_mode="per_call")
    out = agent.invoke(ASK, config("run-per-call"))
    values = sorted((i.value for i in out["__interrupt__"]), key=lambda v: v["name"])
    assert [(v["type"], v["name"]) for v in values] == [("tool_approval", "issue_refund"),
                                                        ("tool_approval", "page_oncall")]
    assert tools.ran() == [{"tool": "search_orders", "q": "cus_42"}]
    refund, page = (v["signoff"]["tickets"][0] for v in values)
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, refund)
    rig.sandbox.click("U0SRE1", action_id=ACTION_REJECT, channel="C0APPROVALS")
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0SRE1"))
    rig.sandbox.submit("U0SRE1", {REASON_BLOCK: {"signoff_reason_value": "not at night"}})
    settled(rig, page)
    final = resume(agent, client, config=config("run-per-call"), timeout=30)
    assert tools.ran() == [{"tool": "search_orders", "q": "cus_42"},
                           {"tool": "issue_refund", **REFUND}]
    by_tool = {m.name: m for m in tool_messages(final)}
    assert by_tool["issue_refund"].content == "refunded 120 to cus_42"
    assert "not at night" in str(by_tool["page_oncall"].content)
    assert final["messages"][-1].content == "All sorted."
    assert len(cards(rig)) == 2


def test_a_reviewers_question_keeps_the_run_paused_until_answered_and_decided(
        rig: Rig, client: ApprovalClient, tools: Tools, tmp_path: Path) -> None:
    agent = agent_for(client, tools, tmp_path, calls(("issue_refund", REFUND)))
    _, ticket = paused(rig, agent, "run-question")
    rig.sandbox.click("U0FINOPS", action_id=ACTION_REQUEST_INFO, channel="C0PAYMENTS")
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    rig.sandbox.submit("U0FINOPS", {QUESTION_BLOCK: {"signoff_question_value":
                                                     "Which order was charged twice?"}})
    assert settled(rig, ticket.id).status == TicketStatus.NEEDS_INFO
    with pytest.raises(ApprovalNeedsInfo) as asked:
        resume(agent, client, config=config("run-question"), timeout=30)
    assert asked.value.question == "Which order was charged twice?"
    assert tools.ran() == [] and agent.get_state(config("run-question")).interrupts
    assert client.answer(ticket.id, "ord_7, on 3 November").status == TicketStatus.PENDING
    rig.sandbox.click("U0FINOPS", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket.id, decisions=2)
    final = resume(agent, client, config=config("run-question"), timeout=30)
    assert tools.ran() == [{"tool": "issue_refund", **REFUND}]
    assert final["messages"][-1].content == "All sorted."


def test_only_the_named_tools_go_to_signoff(rig: Rig, client: ApprovalClient, tools: Tools,
                                            tmp_path: Path) -> None:
    agent = build(client, tools, tmp_path / "checkpoints.sqlite",
                  [calls(("page_oncall", {"team": "payments"}), ("issue_refund", REFUND)),
                   DONE], only=["issue_refund"])
    value, ticket = paused(rig, agent, "run-only")
    assert ticket.action == "issue_refund" and len(value["action_requests"]) == 1
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket.id)
    resume(agent, client, thread_id="run-only", timeout=30)
    assert sorted(r["tool"] for r in tools.ran()) == ["issue_refund", "page_oncall"]
    assert [t.action for t in rig.ledger.list_tickets()] == ["issue_refund"]


def test_per_call_mode_in_an_async_run(rig: Rig, gate: Gate, tools: Tools) -> None:
    async def run() -> tuple[str, dict[str, Any]]:
        async with AsyncApprovalClient(gate.url, gate.token) as aclient:
            agent = build(aclient, tools, None, [calls(("issue_refund", REFUND)), DONE],
                          interrupt_mode="per_call")
            out = await agent.ainvoke(ASK, config("run-async-per-call"))
            [pending] = out["__interrupt__"]
            assert pending.value["type"] == "tool_approval"
            [ticket_id] = pending.value["signoff"]["tickets"]
            await asyncio.to_thread(_edit_amount, rig, ticket_id, "60")
            return ticket_id, await aresume(agent, aclient, thread_id="run-async-per-call",
                                            timeout=30)

    ticket_id, final = _in_own_loop(run())
    assert tools.ran() == [{"tool": "issue_refund", "amount": 60, "customer": "cus_42"}]
    assert "refunded 60 to cus_42" in str(tool_messages(final)[0].content)
    assert rig.ledger.get_ticket(ticket_id).status == TicketStatus.EXECUTED
