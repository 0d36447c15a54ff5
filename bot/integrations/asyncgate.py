"""What the framework adapters share: one awaitable face over either agent client, and the
mapping from a decided ticket to "run these arguments" or "tell the model this".

The frameworks are asyncio stacks. :class:`~bot.agent.client.ApprovalClient` (embedded, or
HTTP through ``HttpBackend``) blocks, so its calls run on a worker thread;
:class:`~bot.agent.aio.AsyncApprovalClient` is awaited as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bot.agent.aio import AsyncApprovalClient
from bot.agent.client import ApprovalClient
from bot.agent.errors import (
    ApprovalDenied,
    ApprovalError,
    ApprovalNeedsInfo,
    ApprovalPending,
    IdempotencyConflict,
    InvalidRequest,
    SignoffError,
)
from store.models import Ticket, TicketStatus

Client = ApprovalClient | AsyncApprovalClient
AsyncTool = Callable[..., Coroutine[Any, Any, Any]]


@dataclass(frozen=True)
class Verdict:
    """A gated call, decided: ``run`` with ``args`` (the approved ones, a reviewer's edit where
    there is one), or not, with ``message`` for the model saying why nothing ran."""

    run: bool
    ticket: Ticket | None
    args: dict[str, Any] | None = None
    message: str = ""


@dataclass(frozen=True)
class Call:
    """One tool call of a run, as signoff files it."""

    action: str
    args: dict[str, Any]
    key: str
    """The idempotency key: the same call always finds the same ticket, in any process."""
    reason: str
    requested_by: str
    agent: str | None
    run_id: str | None
    args_model: type[BaseModel] | None = None


class AsyncGate:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def request(self, call: Call) -> Ticket:
        kwargs: dict[str, Any] = {
            "reason": call.reason, "requested_by": call.requested_by, "agent": call.agent,
            "run_id": call.run_id, "idempotency_key": call.key, "args_model": call.args_model}
        if isinstance(self.client, AsyncApprovalClient):
            return await self.client.request(call.action, call.args, **kwargs)
        return await asyncio.to_thread(self.client.request, call.action, call.args, **kwargs)

    async def get(self, ticket_id: str) -> Ticket:
        if isinstance(self.client, AsyncApprovalClient):
            return await self.client.get(ticket_id)
        return await asyncio.to_thread(self.client.get, ticket_id)

    async def wait(self, ticket_id: str, timeout: float | None) -> Ticket:
        if isinstance(self.client, AsyncApprovalClient):
            return await self.client.wait(ticket_id, timeout)
        return await asyncio.to_thread(self.client.wait, ticket_id, timeout)

    async def raise_unless_approved(self, ticket: Ticket) -> None:
        if isinstance(self.client, AsyncApprovalClient):
            self.client.raise_unless_approved(ticket)
        else:
            await asyncio.to_thread(self.client.raise_unless_approved, ticket)

    async def execute(self, ticket_id: str, tool: AsyncTool, *, action: str,
                      args: dict[str, Any] | None = None) -> Any:
        """Claim the approval once and run ``tool`` with the approved arguments (``args``, if
        given, must equal them by hash); the outcome is recorded on the ticket."""
        if isinstance(self.client, AsyncApprovalClient):
            return await self.client.execute(ticket_id, tool, args, action=action)
        loop = asyncio.get_running_loop()

        def blocking(**approved: Any) -> Any:  # on the worker thread; the tool on the loop
            return asyncio.run_coroutine_threadsafe(tool(**approved), loop).result()

        return await asyncio.to_thread(self.client.execute, ticket_id, blocking, args,
                                       action=action)

    async def claim(self, ticket_id: str, args: dict[str, Any], *, action: str) -> None:
        """Consume the approval for a tool the framework runs itself (exactly ``action`` and
        ``args``, once); :meth:`report` records how it ended."""
        if isinstance(self.client, AsyncApprovalClient):
            await self.client.claim(ticket_id, args, action=action)
            return
        await asyncio.to_thread(self.client.backend.start_execution, ticket_id, action=action,
                                args=args, actor="agent")

    async def report(self, ticket_id: str, *, ok: bool, summary: str) -> None:
        if isinstance(self.client, AsyncApprovalClient):
            await self.client.report(ticket_id, ok=ok, summary=summary)
            return
        await asyncio.to_thread(self.client.backend.finish_execution, ticket_id, ok=ok,
                                actor="agent", summary=summary)

    async def verdict(self, call: Call, *, timeout: float | None) -> Verdict:
        """File the call (or find its ticket again), wait up to ``timeout`` seconds for a
        decision, and say what may happen. Still undecided: :class:`ApprovalPending`; a
        reviewer's question: :class:`ApprovalNeedsInfo` (answer it, then decide again)."""
        try:
            ticket = await self.request(call)
        except (ApprovalDenied, InvalidRequest) as exc:  # policy says never; malformed call
            return Verdict(False, None, message=told(exc))
        except IdempotencyConflict as exc:
            return Verdict(False, None, message=f"{call.action} was not run: its arguments "
                           f"are not the ones filed for review ({exc}).")
        if ticket.status == TicketStatus.PENDING:
            ticket = await self.wait(ticket.id, timeout)
        try:
            await self.raise_unless_approved(ticket)
        except (ApprovalPending, ApprovalNeedsInfo):
            raise
        except ApprovalError as exc:
            return Verdict(False, ticket, message=told(exc))
        return Verdict(True, ticket, args=dict(ticket.final_args))


def told(exc: SignoffError) -> str:
    """What the model reads when a call did not run: what happened, and that nothing ran."""
    text = str(exc)
    return text if "nothing" in text.lower() else f"{text}; nothing ran"
