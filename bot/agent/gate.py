"""Enforce: run a tool with exactly the approved arguments, once, and record the outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

from bot.agent import arguments
from bot.agent.backend import ApprovalBackend
from bot.agent.errors import (
    ApprovalCancelled,
    ApprovalConsumed,
    ApprovalExpired,
    ApprovalNeedsInfo,
    ApprovalPending,
    ApprovalRejected,
    ApprovalTakenOver,
    InvalidArguments,
    OutcomeUnknown,
    RevalidationFailed,
)
from store.models import DecisionKind, Ticket, TicketStatus

T = TypeVar("T")


def raise_unless_approved(ticket: Ticket,
                          reason_of: Callable[[DecisionKind], str | None]) -> None:
    """The typed error for a ticket that may not run (``reason_of`` finds the reviewer's
    latest reason of a kind); nothing for an approved one."""
    status = ticket.status
    if status == TicketStatus.APPROVED:
        return
    if status == TicketStatus.PENDING:
        raise ApprovalPending(ticket)
    if status == TicketStatus.NEEDS_INFO:
        raise ApprovalNeedsInfo(ticket, reason_of(DecisionKind.REQUEST_INFO))
    if status == TicketStatus.REJECTED:
        raise ApprovalRejected(ticket, ticket.decided_by, reason_of(DecisionKind.REJECT))
    if status == TicketStatus.EXPIRED:
        raise ApprovalExpired(ticket)
    if status == TicketStatus.TAKEN_OVER:
        raise ApprovalTakenOver(ticket)
    if status == TicketStatus.CANCELLED:
        raise ApprovalCancelled(ticket)
    if status == TicketStatus.OUTCOME_UNKNOWN:
        raise OutcomeUnknown(ticket)
    raise ApprovalConsumed(ticket)


class Enforcer:
    """Turns a decided ticket into either a run of the tool or the matching typed error."""

    def __init__(self, backend: ApprovalBackend) -> None:
        self.backend = backend

    def raise_unless_approved(self, ticket: Ticket) -> None:
        raise_unless_approved(ticket, lambda kind: self.backend.last_reason(ticket.id, kind))

    def run(self, ticket: Ticket, tool: Callable[..., T], args: dict[str, Any] | None,
            *, revalidate: Callable[[dict[str, Any]], bool] | None,
            args_model: type[BaseModel] | None, actor: str) -> T:
        """Run ``tool`` once with the approved arguments of a ticket just read (the approval
        itself is re-checked, under lock, by ``start_execution``)."""
        self.raise_unless_approved(ticket)
        offered = ticket.final_args if args is None else args
        ticket = self.backend.start_execution(ticket.id, args=offered, actor=actor)
        try:
            call_args = arguments.check_model(ticket, offered, args_model)
            if revalidate is not None and not revalidate(dict(offered)):
                raise RevalidationFailed(ticket)
        except (InvalidArguments, RevalidationFailed) as exc:
            self._finish(ticket, ok=False, error=str(exc))
            raise
        try:
            result = tool(**call_args)
        except Exception as exc:
            self._finish(ticket, ok=False, error=f"{type(exc).__name__}: {exc}")
            raise
        self._finish(ticket, ok=True, summary=arguments.summary(result))
        return result

    def _finish(self, ticket: Ticket, *, ok: bool, summary: str | None = None,
                error: str | None = None) -> None:
        self.backend.finish_execution(ticket.id, ok=ok, actor="agent", summary=summary,
                                      error=error)


class Requester(Protocol):
    """What a gated tool needs of its client (:class:`~bot.agent.client.ApprovalClient`)."""

    enforcer: Enforcer

    def request(self, action: str, args: dict[str, Any], *, reason: str, requested_by: str,
                args_model: type[BaseModel] | None = None, agent: str | None = None
                ) -> Ticket: ...

    def wait(self, ticket_id: str, timeout: float | None = None) -> Ticket: ...

    def execute(self, ticket_id: str, tool: Callable[..., T], args: dict[str, Any] | None = None,
                *, revalidate: Callable[[dict[str, Any]], bool] | None = None,
                args_model: type[BaseModel] | None = None, actor: str = "agent") -> T: ...


class GatedTool(Generic[T]):
    """A tool behind the gate. Call it with the tool's own keyword arguments plus
    ``_reason=`` and ``_requested_by=`` (or set ``requested_by`` on the gate)."""

    def __init__(self, client: Requester, tool: Callable[..., T], *, action: str,
                 args_model: type[BaseModel] | None, mode: Literal["wait", "defer"],
                 revalidate: Callable[[dict[str, Any]], bool] | None, timeout: float | None,
                 requested_by: str | None = None, agent: str | None = None) -> None:
        self.client, self.tool, self.action = client, tool, action
        self.args_model, self.mode, self.revalidate = args_model, mode, revalidate
        self.timeout, self.requested_by, self.agent = timeout, requested_by, agent
        self.__wrapped__ = tool
        self.__name__ = getattr(tool, "__name__", action)
        self.__doc__ = tool.__doc__

    def __call__(self, *, _reason: str = "", _requested_by: str | None = None,
                 **args: Any) -> T:
        return self.call(args, reason=_reason or f"the agent wants to run {self.action}",
                         requested_by=_requested_by or self.requested_by or "")

    def call(self, args: dict[str, Any], *, reason: str, requested_by: str, **meta: Any) -> T:
        if not requested_by:
            raise ValueError("requested_by (the Slack user the agent acts for) is required")
        meta.setdefault("agent", self.agent)
        ticket = self.client.request(self.action, args, reason=reason,
                                     requested_by=requested_by, args_model=self.args_model,
                                     **meta)
        if ticket.status == TicketStatus.PENDING:
            if self.mode == "defer":
                raise ApprovalPending(ticket)
            ticket = self.client.wait(ticket.id, self.timeout)
        # Both request() and wait() hand back the ticket as just read: no need to read it again.
        return self.client.enforcer.run(ticket, self.tool, None, revalidate=self.revalidate,
                                        args_model=self.args_model, actor="agent")

    def resume(self, ticket_id: str) -> T:
        return self.client.execute(ticket_id, self.tool, revalidate=self.revalidate,
                                   args_model=self.args_model)
