"""signoff behind the OpenAI Agents SDK's own approval idiom (``pip install
"signoff[openai-agents]"``).

The SDK pauses a run when a tool's ``needs_approval`` says so (``result.interruptions``) and
resumes it from ``result.to_state()`` after ``state.approve(item)`` / ``state.reject(item,
rejection_message=...)``. Here signoff answers both questions:

    signoff = SignoffApprovals(client, requested_by="U0ALICE", run_id="order-42")

    @signoff.function_tool("issue_refund")       # instead of @function_tool(needs_approval=True)
    def issue_refund(amount: int, customer: str) -> str: ...

    result = await Runner.run(agent, "refund cus_42")
    while result.interruptions:                  # cards are in Slack; decisions come back
        result = await signoff.resume(agent, result)   # or a RunState, or its JSON string

- ``needs_approval`` files the call with signoff (its idempotency key comes from the run and
  the ``call_id``, so every process finds the same ticket): policy allows → no pause; policy
  denies → no card, the model is told why and nothing runs; otherwise the card is posted and
  the run pauses.
- :meth:`SignoffApprovals.resume` (or :meth:`~SignoffApprovals.decide` on a ``RunState``)
  waits for the decisions and turns them into ``approve`` / ``reject(rejection_message=the
  reviewer's reason, or the expiry)``, then runs on, in this process or any other.
- The SDK can only run the arguments the model proposed. A signoff tool's body therefore
  claims its ticket and runs the approved arguments, bound by hash: a reviewer's edit is what
  executes, once, and the outcome is recorded on the card.
- MCP servers: ``require_approval=signoff.mcp_require_approval`` pauses every MCP call (the
  SDK does not show that hook the arguments policy needs); :meth:`decide` files each as the
  action ``<server>.<tool>``, so allowed calls go on at once and denied ones are refused.
  A call the SDK runs itself is claimed once when approved, and :meth:`resume` records its
  output on the ticket; an edit goes back to the model (it would run other arguments).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agents import (
    Agent,
    FunctionTool,
    RunContextWrapper,
    Runner,
    RunState,
    ToolApprovalItem,
    ToolCallOutputItem,
)
from agents.function_schema import FuncSchema, function_schema
from agents.result import RunResult
from agents.tool_context import ToolContext
from pydantic import BaseModel

from bot.agent.arguments import summary
from bot.agent.errors import ApprovalDenied, SignoffError
from bot.integrations.asyncgate import AsyncGate, Call, Client, told
from store.models import TicketStatus

FRAMEWORK = "openai-agents"
KEY_LIMIT = 150  # the gateway keeps keys up to 150 characters
NeedsApproval = Callable[[RunContextWrapper[Any], dict[str, Any], str], Awaitable[bool]]


@dataclass(frozen=True)
class _Tool:
    action: str
    runs_approved_args: bool
    """A signoff tool runs the approved arguments; any other tool runs the model's."""
    args_model: type[BaseModel] | None = None


class SignoffApprovals:
    """One per run (or per agent process, with ``run_id`` naming the run on the cards).

    ``client`` is an :class:`~bot.ApprovalClient` (embedded, or over HTTP to the gateway) or
    an :class:`~bot.AsyncApprovalClient`. Resume a run with the same ``run_id`` it started
    with: the run and each ``call_id`` find their tickets again.
    """

    def __init__(self, client: Client, *, requested_by: str, run_id: str | None = None,
                 agent: str = FRAMEWORK, timeout: float | None = None) -> None:
        self.gate = AsyncGate(client)
        self.requested_by, self.run_id, self.agent = requested_by, run_id, agent
        self.timeout = timeout
        self._tools: dict[str, _Tool] = {}
        self._claimed: dict[str, str] = {}  # call_id → ticket claimed for the SDK to run

    # -- filing a call ---------------------------------------------------------------------

    def _key(self, call_id: str) -> str:
        raw = f"{FRAMEWORK}:{self.run_id or '-'}:{call_id}"
        if len(raw) <= KEY_LIMIT:
            return raw
        return f"{FRAMEWORK}:{hashlib.sha256(raw.encode()).hexdigest()}"

    def _call(self, tool: _Tool, args: dict[str, Any], call_id: str) -> Call:
        return Call(action=tool.action, args=args, key=self._key(call_id),
                    reason=f"an OpenAI Agents SDK run calls {tool.action}",
                    requested_by=self.requested_by, agent=self.agent, run_id=self.run_id,
                    args_model=tool.args_model)

    def _needs_approval(self, tool: _Tool) -> NeedsApproval:
        async def needs_approval(_ctx: RunContextWrapper[Any], params: dict[str, Any],
                                 call_id: str) -> bool:
            try:
                ticket = await self.gate.request(self._call(tool, params, call_id))
            except ApprovalDenied:
                # A signoff tool's body refuses it without a pause; another tool pauses and
                # decide() rejects it with the policy's reason.
                return not tool.runs_approved_args
            except Exception:
                return True  # fail closed: decide() files it again and says what is wrong
            return ticket.status != TicketStatus.APPROVED

        return needs_approval

    def needs_approval(self, action: str, *, tool: str | None = None) -> NeedsApproval:
        """``function_tool(needs_approval=signoff.needs_approval("send_email"))`` on a tool
        named ``tool`` (default: the action). Such a tool runs the model's arguments, so an
        edit is sent back to the model instead; prefer :meth:`function_tool`."""
        gated = _Tool(action, runs_approved_args=False)
        self._tools[tool or action] = gated
        return self._needs_approval(gated)

    def mcp_require_approval(self, _ctx: RunContextWrapper[Any], _agent: Any,
                             _tool: Any) -> bool:
        """``MCPServerStdio(..., require_approval=signoff.mcp_require_approval)``: every MCP
        call pauses (this hook is not shown the arguments policy needs); :meth:`decide` files
        it as ``<server>.<tool>`` and lets allowed calls go on at once."""
        return True

    # -- the gated tool --------------------------------------------------------------------

    def function_tool(self, action: str | None = None, *, args_model: type[BaseModel] | None = None,
                      name_override: str | None = None,
                      description_override: str | None = None,
                      ) -> Callable[[Callable[..., Any]], FunctionTool]:
        """Decorator, in place of ``@function_tool(needs_approval=True)``: the tool asks
        signoff, and its body runs exactly the approved arguments (a reviewer's edit)."""

        def wrap(func: Callable[..., Any]) -> FunctionTool:
            schema = function_schema(func, name_override=name_override,
                                     description_override=description_override)
            tool = _Tool(action or schema.name, True,
                         args_model or schema.params_pydantic_model)
            self._tools[schema.name] = tool

            async def invoke(ctx: ToolContext[Any], raw: str) -> Any:
                return await self._run(tool, json.loads(raw) if raw else {}, ctx, func, schema)

            return FunctionTool(name=schema.name, description=schema.description or "",
                                params_json_schema=schema.params_json_schema,
                                on_invoke_tool=invoke, strict_json_schema=True,
                                needs_approval=self._needs_approval(tool))

        return wrap

    async def _run(self, tool: _Tool, args: dict[str, Any], ctx: ToolContext[Any],
                   func: Callable[..., Any], schema: FuncSchema) -> Any:
        """The body: find this call's ticket and run what it approved, once."""

        async def run(**approved: Any) -> Any:
            parsed = schema.params_pydantic_model(**approved)
            positional, named = schema.to_call_args(parsed)
            if schema.takes_context:
                positional = [ctx, *positional]
            if inspect.iscoroutinefunction(func):
                return await func(*positional, **named)
            return await asyncio.to_thread(func, *positional, **named)

        try:
            ticket = await self.gate.request(self._call(tool, args, ctx.tool_call_id))
            return await self.gate.execute(ticket.id, run, action=tool.action)
        except SignoffError as exc:  # not approved, consumed, other arguments: nothing ran
            return told(exc)
        except Exception as exc:  # the tool failed: recorded on the ticket, told to the model
            return f"{tool.action} failed: {type(exc).__name__}: {exc}"

    # -- decisions -------------------------------------------------------------------------

    def _tool_of(self, item: ToolApprovalItem) -> _Tool:
        name = item.name or ""
        known = self._tools.get(name)
        if known is not None:
            return known
        origin = item.tool_origin
        if origin is not None and origin.mcp_server_name:
            return _Tool(f"{origin.mcp_server_name}.{name}", runs_approved_args=False)
        return _Tool(name, runs_approved_args=False)

    async def decide(self, state: RunState[Any, Any], *,
                     timeout: float | None = None) -> RunState[Any, Any]:
        """Approve or reject every paused call of ``state`` as signoff decided it (waiting up
        to ``timeout`` seconds each). Raises :class:`~bot.ApprovalPending` while a card is
        undecided and :class:`~bot.ApprovalNeedsInfo` when a reviewer asks a question.

        A call the SDK runs itself (an MCP tool, a plain ``function_tool``) is claimed here,
        once: run the state with :meth:`resume` (or pass its result to :meth:`record`) so its
        outcome is recorded; otherwise the sweep marks it ``outcome_unknown``."""
        for item in state.get_interruptions():
            message = await self._answer(item, timeout if timeout is not None
                                         else self.timeout)
            if message is None:
                state.approve(item)
            else:
                state.reject(item, rejection_message=message)
        return state

    async def _answer(self, item: ToolApprovalItem, timeout: float | None) -> str | None:
        """None to approve the call, or what the model reads about why nothing ran."""
        tool = self._tool_of(item)
        try:
            args = json.loads(item.arguments or "{}")
        except ValueError:
            return f"{tool.action}: the arguments are not JSON, so nothing was filed or ran"
        verdict = await self.gate.verdict(self._call(tool, args, item.call_id or ""),
                                          timeout=timeout)
        if not verdict.run or verdict.ticket is None:
            return verdict.message
        if tool.runs_approved_args:
            return None  # its body claims the ticket and runs the approved arguments
        if verdict.args != args:
            return (f"A reviewer approved {tool.action} only with these arguments: "
                    f"{json.dumps(verdict.args, sort_keys=True)}. This tool runs the "
                    "arguments the model proposed, so nothing ran; call it again with "
                    "exactly those.")
        try:
            await self.gate.claim(verdict.ticket.id, args, action=tool.action)
        except SignoffError as exc:  # claimed meanwhile, or decided otherwise
            return told(exc)
        self._claimed[item.call_id or ""] = verdict.ticket.id
        return None

    async def record(self, result: RunResult) -> None:
        """Record on their tickets how the calls :meth:`decide` claimed ended."""
        for item in result.new_items:
            if not isinstance(item, ToolCallOutputItem):
                continue
            raw = item.raw_item
            call_id = raw.get("call_id") if isinstance(raw, dict) else getattr(raw, "call_id",
                                                                                None)
            ticket_id = self._claimed.pop(str(call_id), None)
            if ticket_id is not None:
                await self.gate.report(ticket_id, ok=True, summary=summary(item.output))

    async def resume(self, agent: Agent[Any], paused: RunResult | RunState[Any, Any] | str, *,
                     timeout: float | None = None, **run_kwargs: Any) -> RunResult:
        """Decide a paused run (a result, its ``RunState``, or ``state.to_string()`` from any
        process) and run it on with ``Runner.run``."""
        if isinstance(paused, str):
            state = await RunState.from_string(agent, paused)
        elif isinstance(paused, RunResult):
            state = paused.to_state()
        else:
            state = paused
        await self.decide(state, timeout=timeout)
        result = await Runner.run(agent, state, **run_kwargs)
        await self.record(result)
        return result

    async def run(self, agent: Agent[Any], input: str, *, timeout: float | None = None,
                  **run_kwargs: Any) -> RunResult:
        """``Runner.run``, resumed after each pause until the run finishes."""
        result = await Runner.run(agent, input, **run_kwargs)
        while result.interruptions:
            result = await self.resume(agent, result, timeout=timeout, **run_kwargs)
        return result
