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

from collections.abc import Callable, Iterable
from typing import Annotated, Any, NotRequired

try:
    from langchain.agents.middleware.human_in_the_loop import (
        ActionRequest,
        Decision,
        DecisionType,
        HumanInTheLoopMiddleware,
        InterruptMode,
        InterruptOnConfig,
        ReviewConfig,
    )
    from langchain.agents.middleware.types import AgentState, PrivateStateAttr
    from langchain_core.messages import AIMessage, AnyMessage, ToolCall, ToolMessage
    from langgraph.config import get_config
    from langgraph.prebuilt.tool_node import ToolCallRequest
    from langgraph.runtime import Runtime
    from langgraph.types import interrupt
except ImportError as exc:  # pragma: no cover - the base install has no LangChain
    raise ImportError('the LangChain adapter needs LangChain: pip install "signoff[langchain]"'
                      ) from exc

from bot.integrations.langchain_calls import (
    AsyncHandler,
    Client,
    Filed,
    Handler,
    Run,
    Signoff,
    ToolResult,
    idempotency_key,
    needs_review,
    not_run,
)
from bot.integrations.langchain_resume import PAUSE_KEY, aresume, decision_for, resume
from store.models import Ticket

TICKETS_KEY = "signoff_tickets"
ALL_DECISIONS: list[DecisionType] = ["approve", "edit", "reject", "respond"]
REVIEW: InterruptOnConfig = {"allowed_decisions": ALL_DECISIONS}
REASON_LIMIT = 2000
NOT_FILED = "signoff has no request for this tool call, so nobody approved it"


class SignoffState(AgentState[Any]):
    signoff_tickets: NotRequired[Annotated[dict[str, str], PrivateStateAttr]]
    """Each reviewed tool call's ticket, by tool call id, for ``wrap_tool_call``."""


class SignoffMiddleware(HumanInTheLoopMiddleware[Any, Any, Any]):
    """``HumanInTheLoopMiddleware`` whose reviewer is signoff (policy, Slack, escalation).

    ``client`` is an :class:`ApprovalClient` (embedded or HTTP; the agent runs with
    ``invoke`` or ``ainvoke``) or an :class:`AsyncApprovalClient` (``ainvoke``/``astream``).
    ``requested_by`` is the Slack user the agent acts for, or a function of the run's config.
    ``only`` limits review to those tool names (default: every tool call goes to signoff).
    ``interrupt_mode`` is LangChain's: one interrupt per model turn (``"batched"``) or one
    per tool call under review (``"per_call"``); :func:`resume` answers either.
    """

    state_schema = SignoffState  # type: ignore[assignment]

    def __init__(self, client: Client, *,
                 requested_by: str | Callable[[dict[str, Any]], str],
                 name: str = "agent", only: Iterable[str] | None = None,
                 reason: Callable[[ToolCall, AIMessage], str] | None = None,
                 interrupt_mode: InterruptMode = "batched",
                 edit_notice: str | None = None) -> None:
        if edit_notice is None:  # the notice HumanInTheLoopMiddleware gives after an edit
            super().__init__({}, interrupt_mode=interrupt_mode)
        else:
            super().__init__({}, interrupt_mode=interrupt_mode, edit_notice=edit_notice)
        self.signoff = Signoff(client)
        self.requested_by = requested_by
        self.agent = f"langchain:{name}"
        self.only = None if only is None else frozenset(only)
        self.reason = reason

    # -- batched: the pause after the model's turn --------------------------------------

    def after_model(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        turn = self._turn(state)
        if turn is None:
            return None
        config = dict(get_config())
        filed = [self.signoff.file(call, self._fields(call, turn, config))
                 for call in turn.tool_calls if self._covers(call)]
        return self._pause(filed, state, runtime, _thread_id(config))

    async def aafter_model(self, state: AgentState[Any],
                           runtime: Runtime[Any]) -> dict[str, Any] | None:
        turn = self._turn(state)
        if turn is None:
            return None
        config = dict(get_config())
        filed = [await self.signoff.afile(call, self._fields(call, turn, config))
                 for call in turn.tool_calls if self._covers(call)]
        return self._pause(filed, state, runtime, _thread_id(config))

    def _turn(self, state: AgentState[Any]) -> AIMessage | None:
        if self.interrupt_mode == "per_call":
            return None  # reviewed call by call, in wrap_tool_call
        messages = state.get("messages") or []
        turn = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        return turn if turn is not None and turn.tool_calls else None

    def _covers(self, call: ToolCall) -> bool:
        return self.only is None or call["name"] in self.only

    def _fields(self, call: ToolCall, turn: AIMessage, config: dict[str, Any]) -> dict[str, Any]:
        thread = _thread_id(config)
        who = self.requested_by if isinstance(self.requested_by, str) else \
            self.requested_by(config)
        text = self.reason(call, turn) if self.reason else turn.text.strip()
        return {"reason": (text or f"the agent wants to run {call['name']}")[:REASON_LIMIT],
                "requested_by": who, "agent": self.agent, "run_id": thread,
                "idempotency_key": idempotency_key(thread, turn, call)}

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
        tickets = [f.ticket for f in review if f.ticket is not None]
        for f, ticket in zip(review, tickets, strict=True):
            described: InterruptOnConfig = {**REVIEW, "description": _described(f.call, ticket)}
            action, config = self._create_action_and_config(f.call, described, state, runtime)
            actions.append(action)
            configs.append(config)
        return {"action_requests": actions, "review_configs": configs,
                PAUSE_KEY: {"tickets": [t.id for t in tickets], "run_id": thread}}

    # -- when a tool call runs (per_call: the pause is here) -----------------------------

    def wrap_tool_call(self, request: ToolCallRequest, handler: Handler) -> ToolResult:
        call = request.tool_call
        if not self._covers(call):
            return handler(request)
        if self.interrupt_mode == "per_call":
            config = dict(get_config())
            filed = self.signoff.file(call, self._fields(call, _turn_of(request), config))
            answer = self._ask(filed, _thread_id(config))
            if answer is not None or filed.ticket is None:
                return answer or not_run(call, NOT_FILED)
            ticket_id: str | None = filed.ticket.id
        else:
            ticket_id = _ticket_of(request)
        if ticket_id is None:
            return not_run(call, NOT_FILED)
        return self._ran(self.signoff.execute(ticket_id, request, handler))

    async def awrap_tool_call(self, request: ToolCallRequest,
                              handler: AsyncHandler) -> ToolResult:
        call = request.tool_call
        if not self._covers(call):
            return await handler(request)
        if self.interrupt_mode == "per_call":
            config = dict(get_config())
            filed = await self.signoff.afile(call, self._fields(call, _turn_of(request), config))
            answer = self._ask(filed, _thread_id(config))
            if answer is not None or filed.ticket is None:
                return answer or not_run(call, NOT_FILED)
            ticket_id: str | None = filed.ticket.id
        else:
            ticket_id = _ticket_of(request)
        if ticket_id is None:
            return not_run(call, NOT_FILED)
        return self._ran(await self.signoff.aexecute(ticket_id, request, handler))

    def _ask(self, filed: Filed, thread: str) -> ToolMessage | None:
        """Per call: the refusal, or the reviewer's answer when the tool is not to run; None
        when it runs (allowed by policy, or approved: the ticket then says how)."""
        call = filed.call
        if filed.refusal is not None:
            return self._message(call, {"type": "reject", "message": filed.refusal})
        if filed.ticket is None or not needs_review(filed.ticket):
            return None
        decision = interrupt({
            "type": "tool_approval", "tool_call_id": call["id"], "name": call["name"],
            "args": call["args"], "description": _described(call, filed.ticket),
            PAUSE_KEY: {"tickets": [filed.ticket.id], "run_id": thread}})
        if decision["type"] in ("approve", "edit"):
            return None
        return self._message(call, decision)

    def _ran(self, run: Run) -> ToolResult:
        """The tool's result; when the approved arguments are not the model's, the model is
        told what ran instead (the edit notice of ``HumanInTheLoopMiddleware``)."""
        if run.refused is not None:
            return run.refused
        assert run.result is not None and run.args is not None
        call = run.request.tool_call
        if run.args == call["args"]:
            return run.result
        ran = run.request.override(tool_call={**call, "args": run.args})
        executed = {"name": call["name"], "args": run.args}
        return self._annotate_edited_result(run.result, ran, executed)  # type: ignore[arg-type]


def _described(call: ToolCall, ticket: Ticket) -> str:
    return (f"signoff request {ticket.id}: {call['name']} waits for a decision in Slack "
            f"({ticket.route.channel})")


def _ticket_of(request: ToolCallRequest) -> str | None:
    tickets = (request.state or {}).get(TICKETS_KEY) or {}
    found = tickets.get(request.tool_call.get("id") or "")
    return found if isinstance(found, str) else None


def _turn_of(request: ToolCallRequest) -> AIMessage:
    """The model's message that made this tool call (its id keys the request)."""
    messages: list[AnyMessage] = (request.state or {}).get("messages") or []
    call_id = request.tool_call.get("id")
    for message in reversed(messages):
        if isinstance(message, AIMessage) and any(c.get("id") == call_id
                                                  for c in message.tool_calls):
            return message
    raise ValueError(f"tool call {call_id!r} is in no message of the model: signoff files "
                     "the model's own tool calls")


def _thread_id(config: dict[str, Any]) -> str:
    thread = (config.get("configurable") or {}).get("thread_id")
    if thread is None or thread == "":
        raise ValueError("SignoffMiddleware needs the agent compiled with a checkpointer and "
                         "run with config={'configurable': {'thread_id': ...}}: the run "
                         "pauses until Slack decides and resumes from that thread")
    return str(thread)


__all__ = ["SignoffMiddleware", "aresume", "decision_for", "idempotency_key", "needs_review",
           "resume"]
