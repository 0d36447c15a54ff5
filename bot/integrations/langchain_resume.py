"""Resuming a LangGraph run that :class:`~bot.integrations.langchain.SignoffMiddleware`
paused: wait for Slack's decisions, turn each into the decision ``HumanInTheLoopMiddleware``
expects, and resume the graph from its checkpointer and ``thread_id``, in whatever process.

    resume(agent, client, config={"configurable": {"thread_id": "run-7"}})   # blocks
    resume(agent, client, thread_id=ticket.run_id, timeout=0)   # from a decision webhook

With ``timeout`` (seconds) a pause still undecided then raises ``ApprovalPending``; a
reviewer's question raises ``ApprovalNeedsInfo`` at once. Either way the run stays paused,
ready for the next call (after ``client.answer(ticket_id, text)`` for a question).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from langchain.agents.middleware.human_in_the_loop import Decision
from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import Command, StateSnapshot

from bot.agent.aio import AsyncApprovalClient
from bot.agent.client import ApprovalClient
from bot.agent.errors import ApprovalNeedsInfo, ApprovalPending
from store.models import DecisionKind, Ticket, TicketStatus

PAUSE_KEY = "signoff"
Graph = Pregel[Any, Any, Any, Any]
CARRIED_OUT = (TicketStatus.APPROVED, TicketStatus.EXECUTING, TicketStatus.EXECUTED,
               TicketStatus.FAILED, TicketStatus.OUTCOME_UNKNOWN)
EXPIRED = ("Nobody decided in time: the request for `{name}` expired and nothing ran. Do "
           "not retry it unless the user asks.")
TAKEN_OVER = ("A reviewer took `{name}` over and will handle it themselves; the agent did "
              "not run it. Do not retry it.")
CANCELLED = "The request for `{name}` was cancelled; nothing ran."


def decision_for(ticket: Ticket, reason: str | None = None) -> Decision:
    """The ``HumanInTheLoopMiddleware`` decision for a decided ticket (``reason``: the
    reviewer's reason or question). Nothing is decided yet for a pending ticket
    (:class:`ApprovalPending`) nor for one whose reviewer asked a question
    (:class:`ApprovalNeedsInfo`: answer it with ``client.answer``, then resume again)."""
    name, status = ticket.action, ticket.status
    if status in CARRIED_OUT:
        if ticket.edited:
            return {"type": "edit",
                    "edited_action": {"name": name, "args": dict(ticket.final_args)}}
        return {"type": "approve"}
    if status == TicketStatus.REJECTED:
        return {"type": "reject", "message": reason} if reason else {"type": "reject"}
    if status == TicketStatus.TAKEN_OVER:
        return {"type": "respond", "message": TAKEN_OVER.format(name=name)}
    if status == TicketStatus.EXPIRED:
        return {"type": "reject", "message": EXPIRED.format(name=name)}
    if status == TicketStatus.CANCELLED:
        return {"type": "reject", "message": CANCELLED.format(name=name)}
    if status == TicketStatus.NEEDS_INFO:
        raise ApprovalNeedsInfo(ticket, reason)
    raise ApprovalPending(ticket)


@dataclass(frozen=True)
class Pause:
    """One signoff interrupt of the run: its id, the tickets it waits for (in order), and
    whether it is a batch (answered ``{"decisions": [...]}``) or one call (one decision)."""

    interrupt_id: str
    tickets: tuple[str, ...]
    batched: bool

    def answer(self, decisions: list[Decision]) -> Any:
        return {"decisions": decisions} if self.batched else decisions[0]


def signoff_pauses(snapshot: StateSnapshot) -> list[Pause]:
    return [Pause(pending.id, tuple(value[PAUSE_KEY]["tickets"]),
                  batched="action_requests" in value)
            for pending in snapshot.interrupts
            if isinstance(value := pending.value, dict) and isinstance(value.get(PAUSE_KEY), dict)]


def run_config(config: RunnableConfig | None, thread_id: str | None) -> RunnableConfig:
    if config is not None:
        return config
    if not thread_id:
        raise ValueError("resume needs the run's config or its thread_id (the tickets' run_id)")
    return RunnableConfig(configurable={"thread_id": thread_id})


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _kind(ticket: Ticket) -> DecisionKind:
    return DecisionKind.REQUEST_INFO if ticket.status == TicketStatus.NEEDS_INFO \
        else DecisionKind.REJECT


def _decided(client: ApprovalClient, ticket_id: str, deadline: float | None) -> Decision:
    left = _left(deadline)
    ticket = client.get(ticket_id) if left == 0 else client.wait(ticket_id, left)
    return decision_for(ticket, client.backend.last_reason(ticket.id, _kind(ticket)))


async def _adecided(client: ApprovalClient | AsyncApprovalClient, ticket_id: str,
                    deadline: float | None) -> Decision:
    if isinstance(client, ApprovalClient):
        return await asyncio.to_thread(_decided, client, ticket_id, deadline)
    left = _left(deadline)
    ticket = await (client.get(ticket_id) if left == 0 else client.wait(ticket_id, left))
    return decision_for(ticket, client.last_reason(ticket.id))


def resume(graph: Graph, client: ApprovalClient, *, config: RunnableConfig | None = None,
           thread_id: str | None = None, timeout: float | None = None) -> Any:
    """Wait for the decisions of the run's pause, resume it, and go on while it pauses again
    for signoff; return the run's state values. ``timeout`` bounds the whole wait."""
    if not isinstance(client, ApprovalClient):
        raise TypeError("resume() takes an ApprovalClient; await aresume() for an "
                        "AsyncApprovalClient")
    cfg = run_config(config, thread_id)
    deadline = None if timeout is None else time.monotonic() + timeout
    while pauses := signoff_pauses(graph.get_state(cfg)):
        answers = {p.interrupt_id: p.answer([_decided(client, t, deadline) for t in p.tickets])
                   for p in pauses}
        graph.invoke(Command(resume=answers), cfg)
    return graph.get_state(cfg).values


async def aresume(graph: Graph, client: ApprovalClient | AsyncApprovalClient, *,
                  config: RunnableConfig | None = None, thread_id: str | None = None,
                  timeout: float | None = None) -> Any:
    """:func:`resume` for a run driven with ``ainvoke`` (either client)."""
    cfg = run_config(config, thread_id)
    deadline = None if timeout is None else time.monotonic() + timeout
    while pauses := signoff_pauses(await graph.aget_state(cfg)):
        answers = {p.interrupt_id: p.answer([await _adecided(client, t, deadline)
                                             for t in p.tickets]) for p in pauses}
        await graph.ainvoke(Command(resume=answers), cfg)
    return (await graph.aget_state(cfg)).values
