"""Enforce: run a tool with exactly the approved arguments, once, and record the outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from bot.agent import arguments
from bot.agent.backend import ApprovalBackend
from bot.agent.door import checked_args, readable
from bot.agent.errors import (
    ApprovalCancelled,
    ApprovalConsumed,
    ApprovalExpired,
    ApprovalNeedsInfo,
    ApprovalPending,
    ApprovalRejected,
    ApprovalTakenOver,
    InvalidArguments,
    InvalidRequest,
    OutcomeUnknown,
    RevalidationFailed,
)
from store.errors import ActionMismatch
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

    def execute(self, ticket: Ticket, tool: Callable[..., T], args: dict[str, Any] | None,
                *, action: str | None, revalidate: Callable[[dict[str, Any]], bool] | None,
                args_model: type[BaseModel] | None, actor: str) -> T:
        """:meth:`run` for ``tool`` as an agent hands it over: a :class:`GatedTool` brings
        its action (and its model and revalidate hook, unless given); a plain callable must
        name its action, or nothing runs (:class:`ActionMismatch`)."""
        if isinstance(tool, GatedTool):
            if action is not None and action != tool.action:
                raise ActionMismatch(ticket.id, tool.action, action)
            return self.run(ticket, tool.tool, args, action=tool.action,
                            revalidate=revalidate or tool.revalidate,
                            args_model=args_model or tool.args_model, actor=actor)
        if action is None:
            raise ActionMismatch(ticket.id, ticket.action, None)
        return self.run(ticket, tool, args, action=action, revalidate=revalidate,
                        args_model=args_model, actor=actor)

    def run(self, ticket: Ticket, tool: Callable[..., T], args: dict[str, Any] | None,
            *, action: str, revalidate: Callable[[dict[str, Any]], bool] | None,
            args_model: type[BaseModel] | None, actor: str) -> T:
        """Run ``tool``, which performs ``action``, once with the approved arguments of a
        ticket just read (the approval, its action and its arguments are re-checked, under
        lock, by ``start_execution``)."""
        self.raise_unless_approved(ticket)
        offered = ticket.final_args if args is None else checked_args(ticket.action, args)
        ticket = self.backend.start_execution(ticket.id, action=action, args=offered,
                                              actor=actor)
        try:
            call_args = _check_model(ticket, offered, args_model)
            _revalidate(ticket, offered, revalidate)
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


def _check_model(ticket: Ticket, args: dict[str, Any],
                 model: type[BaseModel] | None) -> dict[str, Any]:
    """The tool receives exactly the approved values; a model only checks them. Whatever
    the model raises refuses the run (the approval is consumed, the outcome recorded)."""
    if model is not None:
        try:
            model.model_validate(args)
        except ValidationError as exc:
            raise InvalidArguments(ticket.action, readable(exc)) from exc
        except Exception as exc:  # a validator that raised something else: fail closed
            raise InvalidArguments(ticket.action, f"{type(exc).__name__}: {exc}") from exc
    return dict(args)


def _revalidate(ticket: Ticket, args: dict[str, Any],
                hook: Callable[[dict[str, Any]], bool] | None) -> None:
    """The agent's last look before the run: a false answer refuses it, and so does an error
    in the hook, so a crashing check never leaves the ticket executing."""
    if hook is None:
        return
    try:
        fresh = hook(dict(args))
    except Exception as exc:
        raise RevalidationFailed(ticket, f"the hook raised {type(exc).__name__}: {exc}") from exc
    if not fresh:
        raise RevalidationFailed(ticket)



class Requester(Protocol):
    """What a gated tool needs of its client (:class:`~bot.agent.client.ApprovalClient`)."""

    enforcer: Enforcer

    def request(self, action: str, args: dict[str, Any], *, reason: str, requested_by: str,
                args_model: type[BaseModel] | None = None, agent: str | None = None
                ) -> Ticket: ...

    def wait(self, ticket_id: str, timeout: float | None = None) -> Ticket: ...

    def execute(self, ticket_id: str, tool: Callable[..., T], args: dict[str, Any] | None = None,
                *, action: str | None = None,
                revalidate: Callable[[dict[str, Any]], bool] | None = None,
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
            raise InvalidRequest(self.action, "requested_by (the Slack user the agent acts "
                                 "for) is required: pass _requested_by= or set it on the gate")
        meta.setdefault("agent", self.agent)
        ticket = self.client.request(self.action, args, reason=reason,
                                     requested_by=requested_by, args_model=self.args_model,
                                     **meta)
        if ticket.status == TicketStatus.PENDING:
            if self.mode == "defer":
                raise ApprovalPending(ticket)
            ticket = self.client.wait(ticket.id, self.timeout)
        # Both request() and wait() hand back the ticket as just read: no need to read it again.
        return self.client.enforcer.run(ticket, self.tool, None, action=self.action,
                                        revalidate=self.revalidate, args_model=self.args_model,
                                        actor="agent")

    def resume(self, ticket_id: str) -> T:
        """Run a deferred request of this tool once it is approved (in any process); raises
        the matching :class:`ApprovalError` otherwise, and refuses a ticket for another
        action."""
        return self.client.execute(ticket_id, self)
