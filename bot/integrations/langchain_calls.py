"""One LangChain tool call through signoff: filed as a request (policy, then a ticket and its
card), and run only through its ticket, with the approved arguments, whichever client the
agent holds (:class:`ApprovalClient`, embedded or HTTP, or :class:`AsyncApprovalClient`)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, ToolCall, ToolMessage
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from bot.agent.aio import AsyncApprovalClient
from bot.agent.client import ApprovalClient
from bot.agent.errors import ActionNotAllowed, ApprovalDenied, ApprovalError, InvalidRequest
from store.errors import SignoffError
from store.models import Ticket

Client = ApprovalClient | AsyncApprovalClient
ToolResult = ToolMessage | Command[Any]
Handler = Callable[[ToolCallRequest], ToolResult]
AsyncHandler = Callable[[ToolCallRequest], Awaitable[ToolResult]]
REFUSED = (ApprovalDenied, InvalidRequest, ActionNotAllowed)


@dataclass(frozen=True)
class Filed:
    """One tool call after signoff's policy: its ticket, or why it was refused."""

    call: ToolCall
    ticket: Ticket | None = None
    refusal: str | None = None


class ToolFailed(Exception):
    """The tool answered with an error message: the execution is recorded as failed."""


class Outcome:
    """What the card's thread shows of a tool's result (its text, not the message object)."""

    def __init__(self, result: ToolResult) -> None:
        self.result = result

    def __repr__(self) -> str:
        content = self.result.content if isinstance(self.result, ToolMessage) else None
        return repr(content) if content is not None else repr(self.result)


class Run:
    """One execution of a tool call with the arguments signoff hands over."""

    def __init__(self, request: ToolCallRequest) -> None:
        self.request = request
        self.args: dict[str, Any] | None = None
        self.result: ToolResult | None = None
        self.refused: ToolMessage | None = None

    def _with(self, args: dict[str, Any]) -> ToolCallRequest:
        self.args = dict(args)
        return self.request.override(tool_call={**self.request.tool_call, "args": dict(args)})

    def _done(self, result: ToolResult) -> Outcome:
        self.result = result
        if isinstance(result, ToolMessage) and result.status == "error":
            raise ToolFailed(str(result.content)[:500])
        return Outcome(result)

    def sync(self, handler: Handler, args: dict[str, Any]) -> Outcome:
        return self._done(handler(self._with(args)))

    async def run(self, handler: AsyncHandler, args: dict[str, Any]) -> Outcome:
        return self._done(await handler(self._with(args)))


class Signoff:
    """The agent's client, as the middleware uses it from sync and from async hooks."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def sync(self) -> ApprovalClient:
        if isinstance(self.client, AsyncApprovalClient):
            raise TypeError("SignoffMiddleware with an AsyncApprovalClient: run the agent with "
                            "ainvoke() or astream(), or give it an ApprovalClient")
        return self.client

    def file(self, call: ToolCall, fields: dict[str, Any]) -> Filed:
        try:
            return Filed(call, ticket=self.sync().request(call["name"], dict(call["args"]),
                                                          **fields))
        except REFUSED as exc:
            return Filed(call, refusal=refusal(exc))

    async def afile(self, call: ToolCall, fields: dict[str, Any]) -> Filed:
        try:
            if isinstance(self.client, AsyncApprovalClient):
                ticket = await self.client.request(call["name"], dict(call["args"]), **fields)
            else:
                ticket = await asyncio.to_thread(self.client.request, call["name"],
                                                 dict(call["args"]), **fields)
        except REFUSED as exc:
            return Filed(call, refusal=refusal(exc))
        return Filed(call, ticket=ticket)

    def execute(self, ticket_id: str, request: ToolCallRequest, handler: Handler) -> Run:
        """Claim the approval once, for this tool, and run it with the approved arguments;
        anything that stops it becomes the model's "was not run" message."""
        run = Run(request)
        try:
            self.sync().execute(ticket_id, lambda **a: run.sync(handler, a),
                                action=request.tool_call["name"])
        except ToolFailed:
            pass
        except ApprovalError as exc:
            run.refused = not_run(request.tool_call, exc)
        return run

    async def aexecute(self, ticket_id: str, request: ToolCallRequest,
                       handler: AsyncHandler) -> Run:
        run = Run(request)
        name = request.tool_call["name"]
        try:
            if isinstance(self.client, AsyncApprovalClient):
                await self.client.execute(ticket_id, lambda **a: run.run(handler, a),
                                          action=name)
            else:  # the sync client in a thread; the tool on this loop
                loop = asyncio.get_running_loop()
                await asyncio.to_thread(self.client.execute, ticket_id, lambda **a: (
                    asyncio.run_coroutine_threadsafe(run.run(handler, a), loop).result()),
                    action=name)
        except ToolFailed:
            pass
        except ApprovalError as exc:
            run.refused = not_run(request.tool_call, exc)
        return run


def needs_review(ticket: Ticket) -> bool:
    """Whether a human decides this ticket. Policy's allow approves it as it is created, with
    nothing to wait for (its deadline is its creation); every other ticket has a deadline."""
    return ticket.expires_at > ticket.created_at


def idempotency_key(thread_id: str, turn: AIMessage, call: ToolCall) -> str:
    """One per tool call of a run, so a re-run (or a restart) finds the same ticket. The
    model's message id is part of it: some chat models number their tool calls afresh each
    turn (``call_0``), and a later turn's call must not find an earlier turn's ticket."""
    call_id = call.get("id")
    if not call_id or not turn.id:
        raise ValueError(f"tool call {call['name']!r} has no id: signoff needs the chat "
                         "model's tool call ids to tie each call to its request")
    key = f"langchain:{thread_id}:{turn.id}:{call_id}"
    if len(key) <= 200:
        return key
    return "langchain:sha256:" + hashlib.sha256(key.encode()).hexdigest()


def refusal(exc: SignoffError) -> str:
    if isinstance(exc, ApprovalDenied):
        return f"signoff policy denies it ({exc.reason or exc.rule}); nothing ran"
    return f"signoff refused the request: {exc}"


def not_run(call: ToolCall, exc: ApprovalError | str) -> ToolMessage:
    return ToolMessage(content=f"`{call['name']}` was not run: {exc}", name=call["name"],
                       tool_call_id=call["id"], status="error")
