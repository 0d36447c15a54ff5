"""A LangChain agent whose risky tool calls are reviewed in Slack by signoff.

Runs offline, from the repository root, after ``pip install -e ".[langchain]"``:

    python examples/langchain_agent.py

signoff's local Slack stands in for Slack, LangChain's fake chat model for the LLM, and a
scripted reviewer edits the card. Against LangChain's own human-in-the-loop, one line changes:

    middleware=[HumanInTheLoopMiddleware(interrupt_on={"issue_refund": True})]
    middleware=[SignoffMiddleware(client, requested_by="U0RITA", name="refund-agent")]

and ``resume(agent, client, config=config)`` takes the place of answering the interrupt.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from bot.integrations.langchain import SignoffMiddleware, resume
from bot.render import ACTION_EDIT
from bot.sandbox import Channel, SlackSandbox, User, Workspace
from bot.server.compose import SlackAccess, compose
from escalation.config import parse_config
from store.db import migrate_url
from store.ledger import Ledger

REVIEWER, REQUESTER = "U0ALICE", "U0RITA"
CONFIG = f"""
version: 1
policy_version: "example-1"
reviewers:
  payments: [{REVIEWER}]
routes:
  default: {{channel: C0PAYMENTS, approvers: payments, chain: payments}}
chains:
  payments:
    levels: [{{notify: [{REVIEWER}], after: 10m}}]
    expire_after: 1h
policy:
  default: require_approval
  rules:
    - {{action: "search_*", decide: allow}}
    - {{action: drop_database, decide: deny, reason: never from an agent}}
"""
WORKSPACE = Workspace(
    bot_name="signoff", channels=[Channel("C0PAYMENTS", "payments")],
    users=[User(REVIEWER, "alice", "Alice Park", "alice@example.com"),
           User(REQUESTER, "rita", "Rita Gomez", "rita@example.com")])


class ScriptedModel(GenericFakeChatModel):
    """LangChain's fake chat model, allowed to call tools: it says what it is scripted to."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:
        return self


@tool
def search_orders(customer: str) -> str:
    """Find a customer's orders."""
    return f"{customer}: order ord_7 charged twice (120 EUR)"


@tool
def issue_refund(amount: int, customer: str) -> str:
    """Refund a customer."""
    return f"refunded {amount} to {customer}"


SCRIPT = [
    AIMessage("Looking the customer up.", tool_calls=[
        {"name": "search_orders", "args": {"customer": "cus_42"}, "id": "call_search"}]),
    AIMessage("The customer was charged twice for ord_7.", tool_calls=[
        {"name": "issue_refund", "args": {"amount": 120, "customer": "cus_42"},
         "id": "call_refund"}]),
    AIMessage("Done: the double charge on ord_7 is refunded."),
]


def reviewer_edits_the_amount(sandbox: SlackSandbox, amount: str) -> None:
    """What Alice does in Slack: Edit on the card, a new amount, Submit (signed requests)."""
    sandbox.click(REVIEWER, action_id=ACTION_EDIT, channel="C0PAYMENTS")
    sandbox.wait_until(lambda: sandbox.views(REVIEWER))
    sandbox.submit(REVIEWER, {"arg:amount": {"signoff_edit_value": amount}})


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'signoff.db'}"
        migrate_url(url)
        secret = secrets.token_hex(16)
        with SlackSandbox(WORKSPACE, signing_secret=secret) as sandbox:
            service = compose(parse_config(CONFIG), Ledger.open(url),
                              SlackAccess(sandbox.bot_token, sandbox.api_url, secret),
                              owner="langchain-example")
            try:
                server = service.serve_http("127.0.0.1", 0).start()
                sandbox.set_request_url(f"{server.url}/slack/events")
                return run(service.agent_client(), sandbox)
            finally:
                service.close()


def run(client: Any, sandbox: SlackSandbox) -> int:
    agent = create_agent(
        ScriptedModel(messages=iter(SCRIPT)), tools=[search_orders, issue_refund],
        middleware=[SignoffMiddleware(client, requested_by=REQUESTER, name="refund-agent")],
        checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "refund-run-1"}}
    out = agent.invoke({"messages": [HumanMessage("cus_42 was charged twice")]}, config)
    pause = out["__interrupt__"][0].value
    for action in pause["action_requests"]:
        print(f"paused for review: {action['name']}({action['args']})")
    print(f"signoff tickets: {pause['signoff']['tickets']}")
    reviewer_edits_the_amount(sandbox, "80")
    final = resume(agent, client, config=config, timeout=30)
    for message in final["messages"]:
        if isinstance(message, ToolMessage):
            print(f"tool {message.name}: {str(message.content).splitlines()[-1]}")
    print(f"agent: {final['messages'][-1].content}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
