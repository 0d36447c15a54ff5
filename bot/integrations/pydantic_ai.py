"""signoff behind Pydantic AI's deferred tools (``pip install "signoff[pydantic-ai]"``).

Pydantic AI ends a run with ``DeferredToolRequests`` when a tool needs approval and takes the
answers in the next run as ``DeferredToolResults(approvals={id: True | ToolApproved(...) |
ToolDenied(...)})``. Here signoff asks and answers:

    signoff = SignoffApprovals(client, requested_by="U0ALICE", run_id="order-42")
    agent = Agent(model, toolsets=[signoff.toolset(tools)],      # was tools.approval_required()
                  output_type=[str, DeferredToolRequests])

    result = await agent.run("refund cus_42")
    while isinstance(result.output, DeferredToolRequests):     # cards are in Slack
        result = await signoff.resume(agent, result)            # decisions come back

- The toolset files every call with signoff (idempotency key from the run and the
  ``tool_call_id``): policy allows → it runs at once; policy denies → no card, the model is told
  why and nothing runs; otherwise the card is posted and the call is deferred for approval.
- :meth:`SignoffApprovals.results` maps the decisions: approve → ``ToolApproved`` with the
  approved arguments; edit → ``ToolApproved(override_args=the reviewer's arguments)``;
  reject → ``ToolDenied(the reviewer's reason)``; expiry → ``ToolDenied`` saying it expired
  and nothing ran.
- Bound by hash: a deferred call is answered only from the ticket filed for that very call
  (its run, call id, action and arguments), and the approved call runs only if its arguments
  hash to what was approved; it claims the approval once and the outcome is recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic_ai import (
    Agent,
    ApprovalRequired,
    DeferredToolRequests,
    DeferredToolResults,
    RunContext,
    ToolApproved,
    ToolDenied,
    WrapperToolset,
)
from pydantic_ai.messages import ModelMessage, ToolCallPart
from pydantic_ai.run import AgentRunResult
from pydantic_ai.toolsets import AbstractToolset, ToolsetTool

from bot.agent.errors import ApprovalDenied, InvalidRequest, SignoffError
from bot.integrations.asyncgate import AsyncGate, Call, Client, Verdict, told
from store.models import Ticket, TicketStatus, canonical_json

FRAMEWORK = "pydantic-ai"
KEY_LIMIT = 150  # the gateway keeps idempotency keys up to 150 characters
TICKET = "signoff_ticket"
"""The metadata key under which a deferred call carries its ticket."""


class SignoffApprovals:
    """One per run (or per agent process, with ``run_id`` naming the run on the cards).

    ``client`` is an :class:`~bot.ApprovalClient` (embedded, or over HTTP to the gateway) or
    an :class:`~bot.AsyncApprovalClient`. ``actions`` names the signoff action of a tool where
    it differs from the tool's name.
    """

    def __init__(self, client: Client, *, requested_by: str, run_id: str | None = None,
                 agent: str = FRAMEWORK, timeout: float | None = None,
                 actions: dict[str, str] | None = None) -> None:
        self.gate = AsyncGate(client)
        self.requested_by, self.run_id, self.agent = requested_by, run_id, agent
        self.timeout = timeout
        self.actions = dict(actions or {})

    def toolset(self, tools: AbstractToolset[Any]) -> SignoffToolset:
        """``tools`` behind signoff, in place of ``ApprovalRequiredToolset(tools)``."""
        return SignoffToolset(tools, signoff=self)

    def key(self, tool_call_id: str) -> str:
        raw = f"{FRAMEWORK}:{self.run_id or '-'}:{tool_call_id}"
        if len(raw) <= KEY_LIMIT:
            return raw
        return f"{FRAMEWORK}:{hashlib.sha256(raw.encode()).hexdigest()}"

    def call(self, tool_name: str, args: dict[str, Any], tool_call_id: str) -> Call:
        action = self.actions.get(tool_name, tool_name)
        return Call(action=action, args=args, key=self.key(tool_call_id),
                    reason=f"a Pydantic AI run calls {action}", requested_by=self.requested_by,
                    agent=self.agent, run_id=self.run_id)

    # -- decisions -------------------------------------------------------------------------

    async def results(self, requests: DeferredToolRequests, *,
                      timeout: float | None = None) -> DeferredToolResults:
        """The answers to a run's approval requests, as signoff decided them (waiting up to
        ``timeout`` seconds each). Raises :class:`~bot.ApprovalPending` while a card is
        undecided and :class:`~bot.ApprovalNeedsInfo` when a reviewer asks a question."""
        answers = DeferredToolResults()
        for part in requests.approvals:
            verdict = await self._verdict(part, requests.metadata.get(part.tool_call_id, {}),
                                          timeout if timeout is not None else self.timeout)
            if verdict.run and verdict.ticket is not None:
                answers.approvals[part.tool_call_id] = ToolApproved(override_args=verdict.args)
                answers.metadata[part.tool_call_id] = {TICKET: verdict.ticket.id}
            else:
                answers.approvals[part.tool_call_id] = ToolDenied(verdict.message)
        return answers

    async def _verdict(self, part: ToolCallPart, meta: dict[str, Any],
                       timeout: float | None) -> Verdict:
        call = self.call(part.tool_name, part.args_as_dict(), part.tool_call_id)
        ticket_id = meta.get(TICKET) if isinstance(meta, dict) else None
        if not isinstance(ticket_id, str):
            return await self.gate.verdict(call, timeout=timeout)
        ticket = await self.gate.get(ticket_id)
        mismatch = _mismatch(ticket, call)
        if mismatch:
            return Verdict(False, ticket, message=f"{call.action} was not run: {mismatch}")
        # the ticket is this call's: file it again by its key and arguments (no second card)
        return await self.gate.verdict(replace(call, args=ticket.args), timeout=timeout)

    async def resume(self, agent: Agent[Any, Any],
                     paused: AgentRunResult[Any] | Sequence[ModelMessage],
                     requests: DeferredToolRequests | None = None, *,
                     timeout: float | None = None, **run_kwargs: Any) -> AgentRunResult[Any]:
        """Decide a paused run and run it on: ``paused`` is its result, or its messages (e.g.
        ``ModelMessagesTypeAdapter.validate_json(saved)`` in another process) with the
        ``DeferredToolRequests`` it ended with."""
        if isinstance(paused, AgentRunResult):
            history = paused.all_messages()
            requests = requests or paused.output
        else:
            history = list(paused)
        if not isinstance(requests, DeferredToolRequests):
            raise TypeError("resume needs the DeferredToolRequests the paused run ended with")
        results = await self.results(requests, timeout=timeout)
        result: AgentRunResult[Any] = await agent.run(
            message_history=history, deferred_tool_results=results, **run_kwargs)
        return result


def _mismatch(ticket: Ticket, call: Call) -> str | None:
    """Why ``ticket`` is not the one filed for ``call`` (None when it is): another action,
    another run or call, or arguments other than the ones the model proposed."""
    if ticket.action != call.action:
        return f"its ticket {ticket.id} is for {ticket.action}"
    if ticket.idempotency_key != call.key:
        return f"ticket {ticket.id} was filed for another call"
    proposed = {name: canonical_json(value) for name, value in call.args.items()}
    filed = {name: canonical_json(ticket.args[name]) for name in proposed if name in ticket.args}
    if proposed != filed:
        return (f"its arguments {json.dumps(call.args, sort_keys=True)} are not the ones "
                f"filed for review (ticket {ticket.id}); nothing ran")
    return None


@dataclass
class SignoffToolset(WrapperToolset[Any]):
    """The wrapped tools behind signoff: allowed calls run, denied ones are refused, the rest
    are deferred for approval; an approved call runs its approved arguments, once."""

    signoff: SignoffApprovals | None = None

    @property
    def _signoff(self) -> SignoffApprovals:
        if self.signoff is None:
            raise TypeError("SignoffToolset needs signoff=SignoffApprovals(...)")
        return self.signoff

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any],
                        tool: ToolsetTool[Any]) -> Any:
        signoff = self._signoff
        call = signoff.call(name, tool_args, ctx.tool_call_id or "")
        if ctx.tool_call_approved:
            meta = ctx.tool_call_metadata
            ticket_id = meta.get(TICKET) if isinstance(meta, dict) else None
            if not isinstance(ticket_id, str):
                return (f"{call.action} was approved outside signoff, so it did not run; "
                        "answer its approval with SignoffApprovals.results()")
            ticket = await signoff.gate.get(ticket_id)
            if ticket.action != call.action or ticket.idempotency_key != call.key:
                return (f"{call.action} did not run: ticket {ticket_id} was not filed for "
                        "this call")
            return await self._execute(ticket_id, name, call, ctx, tool)
        try:
            ticket = await signoff.gate.request(call)
        except (ApprovalDenied, InvalidRequest) as exc:  # policy says never; malformed call
            return told(exc)
        if ticket.status == TicketStatus.APPROVED:  # policy allows it
            return await self._execute(ticket.id, name, call, ctx, tool)
        raise ApprovalRequired(metadata={TICKET: ticket.id, "args_sha256": ticket.args_hash})

    async def _execute(self, ticket_id: str, name: str, call: Call, ctx: RunContext[Any],
                       tool: ToolsetTool[Any]) -> Any:
        """Claim the approval for exactly these arguments (by hash) and run the wrapped tool."""
        approved_ctx = replace(ctx, tool_call_approved=True)

        async def run(**args: Any) -> Any:
            return await self.wrapped.call_tool(name, args, approved_ctx, tool)

        try:
            return await self._signoff.gate.execute(ticket_id, run, action=call.action,
                                                    args=call.args)
        except SignoffError as exc:
            return told(exc)
