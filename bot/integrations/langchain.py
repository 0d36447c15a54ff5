"""LangChain / LangGraph: signoff behind the interrupt of ``HumanInTheLoopMiddleware``.

    agent = create_agent(model, tools=[issue_refund, search_orders], checkpointer=saver,
                         middleware=[SignoffMiddleware(client, requested_by="U0ALICE")])
    agent.invoke({"messages": [...]}, config)   # pauses; the cards are in Slack
    resume(agent, client, config=config)        # waits for Slack, resumes, runs to the end

Every tool call of the model goes to signoff's policy first (``only=`` narrows which): an
allowed call runs without a pause, a denied one is rejected without a card, and the others
pause the run with the interrupt ``HumanInTheLoopMiddleware`` raises (``action_requests``,
``review_configs``, and ``signoff``: the tickets). :func:`resume` turns each Slack decision
into the decision that interrupt expects and resumes the graph from its checkpointer, in
any process. Whatever a resume payload says, a tool runs only through its ticket: the
approval is claimed once, for that action, and the tool gets the approved arguments (the
reviewer's edit where there is one), never the model's.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired

try:
    from langchain.agents.middleware.human_in_the_loop import (
        ActionRequest,
        Decision,
        DecisionType,
        HumanInTheLoopMiddleware,
        InterruptOnConfig,
        ReviewConfig,
    )
    from langchain.agents.middleware.types import AgentState, PrivateStateAttr
    from langchain_core.messages import AIMessage, ToolCall, ToolMessage
    from langgraph.config import get_config
    from langgraph.prebuilt.tool_node import ToolCallRequest
    from langgraph.runtime import Runtime
    from langgraph.types import Command, interrupt
except ImportError as exc:  # pragma: no cover - the base install has no LangChain
    raise ImportError('the LangChain adapter needs LangChain: pip install "signoff[langchain]"'
                      ) from exc

from bot.agent.aio import AsyncApprovalClient
from bot.agent.client import ApprovalClient
from bot.agent.errors import ActionNotAllowed, ApprovalDenied, ApprovalError, InvalidRequest
from bot.integrations.langchain_resume import PAUSE_KEY, aresume, decision_for, resume
from store.errors import SignoffError
from store.models import Ticket

Client = ApprovalClient | AsyncApprovalClient
ToolResult = ToolMessage | Command[Any]
TICKETS_KEY = "signoff_tickets"
ALL_DECISIONS: list[DecisionType] = ["approve", "edit", "reject", "respond"]
REVIEW: InterruptOnConfig = {"allowed_decisions": ALL_DECISIONS}
REASON_LIMIT = 2000
NOT_FILED = ("`{name}` was not run: signoff has no request for this tool call, so nobody "
             "approved it.")


class SignoffState(AgentState[Any]):
    signoff_tickets: NotRequired[Annotated[dict[str, str], PrivateStateAttr]]
    """Each reviewed tool call's ticket, by tool call id, for ``wrap_tool_call``."""


@dataclass(frozen=True)
class Filed:
    """One tool call after signoff's policy: its ticket, or why it was refused."""

    call: ToolCall
    ticket: Ticket | None = None
    refusal: str | None = None


class SignoffMiddleware(HumanInTheLoopMiddleware[Any, Any, Any]):
    """``HumanInTheLoopMiddleware`` whose reviewer is signoff (policy, Slack, escalation).

    ``client`` is an :class:`ApprovalClient` (embedded or HTTP; the agent runs with
    ``invoke`` or ``ainvoke``) or an :class:`AsyncApprovalClient` (``ainvoke``/``astream``).
    ``requested_by`` is the Slack user the agent acts for, or a function of the run's config.
    ``only`` limits review to those tool names (default: every tool call goes to signoff).
    """

    state_schema = SignoffState  # type: ignore[assignment]

    def __init__(self, client: Client, *,
                 requested_by: str | Callable[[dict[str, Any]], str],
                 name: str = "agent", only: Iterable[str] | None = None,
                 reason: Callable[[ToolCall, AIMessage], str] | None = None,
                 edit_notice: str | None = None) -> None:
        if edit_notice is None:  # the notice HumanInTheLoopMiddleware gives after an edit
            super().__init__({})
        else:
            super().__init__({}, edit_notice=edit_notice)
        self.client = client
        self.requested_by = requested_by
        self.agent = f"langchain:{name}"
        self.only = None if only is None else frozenset(only)
        self.reason = reason

    # -- at the pause -------------------------------------------------------------------

    def after_model(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        turn = _last_turn(state)
        if turn is None:
            return None
        client = self._sync_client()
        config = dict(get_config())
        filed = [self._file(client, call, turn, config) for call in self._reviewed(turn)]
        return self._pause(filed, state, runtime, _thread_id(config))

    async def aafter_model(self, state: AgentState[Any],
                           runtime: Runtime[Any]) -> dict[str, Any] | None:
        turn = _last_turn(state)
        if turn is None:
            return None
        config = dict(get_config())
        filed = [await self._afile(call, turn, config) for call in self._reviewed(turn)]
        return self._pause(filed, state, runtime, _thread_id(config))

    def _reviewed(self, turn: AIMessage) -> list[ToolCall]:
        return [c for c in turn.tool_calls if self.only is None or c["name"] in self.only]

    def _request_fields(self, call: ToolCall, turn: AIMessage,
                        config: dict[str, Any]) -> dict[str, Any]:
        thread = _thread_id(config)
        who = self.requested_by if isinstance(self.requested_by, str) else \
            self.requested_by(config)
        return {"reason": self._reason(call, turn), "requested_by": who, "agent": self.agent,
                "run_id": thread, "idempotency_key": idempotency_key(thread, turn, call)}

    def _reason(self, call: ToolCall, turn: AIMessage) -> str:
        text = self.reason(call, turn) if self.reason else turn.text.strip()
        return (text or f"the agent wants to run {call['name']}")[:REASON_LIMIT]

    def _file(self, client: ApprovalClient, call: ToolCall, turn: AIMessage,
              config: dict[str, Any]) -> Filed:
        try:
            return Filed(call, ticket=client.request(
                call["name"], dict(call["args"]), **self._request_fields(call, turn, config)))
        except (ApprovalDenied, InvalidRequest, ActionNotAllowed) as exc:
            return Filed(call, refusal=_refusal(exc))

    async def _afile(self, call: ToolCall, turn: AIMessage, config: dict[str, Any]) -> Filed:
        fields = self._request_fields(call, turn, config)
        try:
            if isinstance(self.client, AsyncApprovalClient):
                ticket = await self.client.request(call["name"], dict(call["args"]), **fields)
            else:
                ticket = await asyncio.to_thread(self.client.request, call["name"],
                                                 dict(call["args"]), **fields)
        except (ApprovalDenied, InvalidRequest, ActionNotAllowed) as exc:
            return Filed(call, refusal=_refusal(exc))
        return Filed(call, ticket=ticket)

    def _pause(self, filed: list[Filed], state: AgentState[Any], runtime: Runtime[Any],
               thread: str) -> dict[str, Any]:
        """Interrupt for the calls a human reviews; rejections for the refused ones. On
        resume this runs again: the same idempotency keys find the same tickets, so the
        calls under review are the same and the decisions line up with them."""
        update: dict[str, Any] = {
            TICKETS_KEY: {f.call["id"]: f.ticket.id for f in filed if f.ticket is not None}}
        messages = [self._message(f.call, {"type": "reject", "message": f.refusal})
                    for f in filed if f.refusal is not None]
        review = [f for f in filed if f.ticket is not None and needs_review(f.ticket)]
        if review:
            decisions = interrupt(self._hitl_request(review, state, runtime, thread))["decisions"]
            if len(decisions) != len(review):
                raise ValueError(f"{len(decisions)} decisions for {len(review)} tool calls "
                                 "under review: resume with one decision per action_request")
            messages += [m for f, d in zip(review, decisions, strict=True)
                         if (m := self._message(f.call, d)) is not None]
        if messages:
            update["messages"] = messages
        return update

    def _message(self, call: ToolCall, decision: Decision) -> ToolMessage | None:
        _, message = self._process_decision(decision, call, REVIEW)
        return message

    def _hitl_request(self, review: list[Filed], state: AgentState[Any], runtime: Runtime[Any],
                      thread: str) -> dict[str, Any]:
        actions: list[ActionRequest] = []
        configs: list[ReviewConfig] = []
        for f in review:
            assert f.ticket is not None
            described: InterruptOnConfig = {**REVIEW, "description": (
                f"signoff request {f.ticket.id}: {f.call['name']} waits for a decision in "
                f"Slack ({f.ticket.route.channel})")}
            action, config = self._create_action_and_config(f.call, described, state, runtime)
            actions.append(action)
            configs.append(config)
        return {"action_requests": actions, "review_configs": configs,
                PAUSE_KEY: {"tickets": [f.ticket.id for f in review if f.ticket],
                            "run_id": thread}}

    # -- when the tool runs -------------------------------------------------------------

    def wrap_tool_call(self, request: ToolCallRequest,
                       handler: Callable[[ToolCallRequest], ToolResult]) -> ToolResult:
        ticket_id = self._ticket_of(request)
        if ticket_id is None:
            return handler(request) if not self._covers(request) else _not_filed(request)
        run = Run(request)
        try:
            self._sync_client().execute(ticket_id, lambda **a: run.sync(handler, a),
                                        action=request.tool_call["name"])
        except ToolFailed:
            pass
        except ApprovalError as exc:
            return _not_run(request.tool_call, exc)
        return self._annotated(request, run)

    async def awrap_tool_call(
            self, request: ToolCallRequest,
            handler: Callable[[ToolCallRequest], Awaitable[ToolResult]]) -> ToolResult:
        ticket_id = self._ticket_of(request)
        if ticket_id is None:
            return await handler(request) if not self._covers(request) else \
                _not_filed(request)
        run = Run(request)
        name = request.tool_call["name"]
        try:
            if isinstance(self.client, AsyncApprovalClient):
                await self.client.execute(ticket_id, lambda **a: run.run(handler, a),
                                          action=name)
            else:
                loop = asyncio.get_running_loop()
                await asyncio.to_thread(self.client.execute, ticket_id, lambda **a: (
                    asyncio.run_coroutine_threadsafe(run.run(handler, a), loop).result()),
                    action=name)
        except ToolFailed:
            pass
        except ApprovalError as exc:
            return _not_run(request.tool_call, exc)
        return self._annotated(request, run)

    def _covers(self, request: ToolCallRequest) -> bool:
        return self.only is None or request.tool_call["name"] in self.only

    def _ticket_of(self, request: ToolCallRequest) -> str | None:
        if not self._covers(request):
            return None
        tickets = (request.state or {}).get(TICKETS_KEY) or {}
        found = tickets.get(request.tool_call.get("id") or "")
        return found if isinstance(found, str) else None

    def _annotated(self, request: ToolCallRequest, run: Run) -> ToolResult:
        """The tool's result; when the approved arguments are not the model's, the model is
        told what ran instead (the edit notice of ``HumanInTheLoopMiddleware``)."""
        assert run.result is not None and run.args is not None
        if run.args == request.tool_call["args"]:
            return run.result
        executed = {"name": request.tool_call["name"], "args": run.args}
        ran = request.override(tool_call={**request.tool_call, "args": run.args})
        return self._annotate_edited_result(run.result, ran, executed)  # type: ignore[arg-type]

    def _sync_client(self) -> ApprovalClient:
        if isinstance(self.client, AsyncApprovalClient):
            raise TypeError("SignoffMiddleware with an AsyncApprovalClient: run the agent with "
                            "ainvoke() or astream(), or give it an ApprovalClient")
        return self.client


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

    def _with(self, args: dict[str, Any]) -> ToolCallRequest:
        self.args = dict(args)
        return self.request.override(tool_call={**self.request.tool_call, "args": dict(args)})

    def _done(self, result: ToolResult) -> Outcome:
        self.result = result
        if isinstance(result, ToolMessage) and result.status == "error":
            raise ToolFailed(str(result.content)[:500])
        return Outcome(result)

    def sync(self, handler: Callable[[ToolCallRequest], ToolResult],
             args: dict[str, Any]) -> Outcome:
        return self._done(handler(self._with(args)))

    async def run(self, handler: Callable[[ToolCallRequest], Awaitable[ToolResult]],
                  args: dict[str, Any]) -> Outcome:
        return self._done(await handler(self._with(args)))


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


def _thread_id(config: dict[str, Any]) -> str:
    thread = (config.get("configurable") or {}).get("thread_id")
    if thread is None or thread == "":
        raise ValueError("SignoffMiddleware needs the agent compiled with a checkpointer and "
                         "run with config={'configurable': {'thread_id': ...}}: the run "
                         "pauses until Slack decides and resumes from that thread")
    return str(thread)


def _last_turn(state: AgentState[Any]) -> AIMessage | None:
    messages = state.get("messages") or []
    turn = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
    return turn if turn is not None and turn.tool_calls else None


def _refusal(exc: SignoffError) -> str:
    if isinstance(exc, ApprovalDenied):
        return f"signoff policy denies it ({exc.reason or exc.rule}); nothing ran"
    return f"signoff refused the request: {exc}"


def _not_run(call: ToolCall, exc: ApprovalError) -> ToolMessage:
    return ToolMessage(content=f"`{call['name']}` was not run: {exc}", name=call["name"],
                       tool_call_id=call["id"], status="error")


def _not_filed(request: ToolCallRequest) -> ToolMessage:
    call = request.tool_call
    return ToolMessage(content=NOT_FILED.format(name=call["name"]), name=call["name"],
                       tool_call_id=call["id"], status="error")


__all__ = ["SignoffMiddleware", "aresume", "decision_for", "idempotency_key", "needs_review",
           "resume"]
