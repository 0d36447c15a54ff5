"""A LangChain agent for the adapter's tests: ``create_agent`` with LangChain's own fake chat
model, scripted to call tools, behind ``SignoffMiddleware``, on a SQLite checkpointer that
another process (or another graph instance) can open again."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from bot.agent.aio import AsyncApprovalClient
from bot.agent.client import ApprovalClient
from bot.integrations.langchain import SignoffMiddleware

REFUND = {"amount": 120, "customer": "cus_42"}


class ScriptedModel(GenericFakeChatModel):
    """LangChain's fake chat model, told it may call tools (it says what it is scripted to)."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:
        return self


def calls(*tool_calls: tuple[str, dict[str, Any]], text: str = "") -> AIMessage:
    return AIMessage(content=text, tool_calls=[
        {"name": name, "args": args, "id": f"call_{i}_{name}", "type": "tool_call"}
        for i, (name, args) in enumerate(tool_calls)])


class Tools:
    """The agent's tools; each run is appended to a JSON-lines log (visible across
    processes)."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def ran(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def _record(self, name: str, **args: Any) -> None:
        with self.log.open("a") as f:
            f.write(json.dumps({"tool": name, **args}) + "\n")

    def all(self) -> list[Any]:
        @tool
        def issue_refund(amount: int, customer: str) -> str:
            """Refund a customer."""
            self._record("issue_refund", amount=amount, customer=customer)
            return f"refunded {amount} to {customer}"

        @tool
        def search_orders(q: str) -> str:
            """Search orders."""
            self._record("search_orders", q=q)
            return f"2 orders match {q}"

        @tool
        def drop_database(name: str) -> str:
            """Drop a database."""
            self._record("drop_database", name=name)
            return "dropped"

        @tool
        def page_oncall(team: str) -> str:
            """Page the on-call engineer."""
            self._record("page_oncall", team=team)
            return "paged"

        return [issue_refund, search_orders, drop_database, page_oncall]


def saver(path: Path) -> SqliteSaver:
    return SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))


def build(client: ApprovalClient | AsyncApprovalClient, tools: Tools, checkpoints: Path | None,
          script: list[BaseMessage], **middleware: Any) -> Any:
    """With ``checkpoints`` None, LangGraph's in-memory saver (which async runs can use)."""
    return create_agent(ScriptedModel(messages=iter(script)), tools=tools.all(),
                        middleware=[SignoffMiddleware(client, requested_by="U0REQUESTER",
                                                      name="refund-agent", **middleware)],
                        checkpointer=InMemorySaver() if checkpoints is None
                        else saver(checkpoints))


def config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}
