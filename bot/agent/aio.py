"""``AsyncApprovalClient``: the HTTP client for asyncio agent stacks (LangGraph, the OpenAI
Agents SDK, Pydantic AI). Same methods and exceptions as the sync clients, awaited; a gated
tool may be a coroutine function or a plain one.

    async with AsyncApprovalClient(url, token) as client:
        refund = client.gate("issue_refund", requested_by="U0ALICE")(issue_refund)
        await refund(amount=120, customer="cus_42", _reason="double charge")
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel

from bot.agent import wire
from bot.agent.errors import (
    ActionMismatch,
    ApprovalConsumed,
    ApprovalPending,
    GatewayRefused,
    InvalidArguments,
)
from bot.agent.gate import raise_unless_approved
from bot.agent.plan_aio import AsyncPlans
from store.models import Evidence, Ticket, TicketStatus

T = TypeVar("T")
Tool = Callable[..., Any]


GATE_INFO = "__signoff_gate__"


@dataclass(frozen=True)
class GateInfo:
    """What a gated coroutine carries, so ``resume(ticket_id, gated)`` runs the tool behind
    it, for its own action."""

    tool: Tool
    action: str
    revalidate: Callable[[dict[str, Any]], bool] | None
    args_model: type[BaseModel] | None


class AsyncApprovalClient(AsyncPlans):
    def __init__(self, url: str, token: str, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=10.0), transport=transport)
        self._reasons: dict[str, str | None] = {}

    @classmethod
    def from_env(cls, **kwargs: Any) -> AsyncApprovalClient:
        from bot.settings import load_settings

        settings = load_settings()
        if not settings.signoff_url or settings.agent_token is None:
            from store.errors import ConfigError

            raise ConfigError("AsyncApprovalClient needs SIGNOFF_URL and SIGNOFF_AGENT_TOKEN "
                              "(from `signoff agents add`)")
        return cls(settings.signoff_url, settings.agent_token.get_secret_value(), **kwargs)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncApprovalClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, path: str, *, body: Any = None, params: Any = None,
                    timeout: float | None = None, ticket_id: str | None = None,
                    action: str | None = None) -> dict[str, Any]:
        try:
            resp = await self._http.request(method, path, json=body, params=params,
                                            timeout=timeout if timeout is not None
                                            else httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise GatewayRefused("unavailable", f"cannot reach signoff at {self.url}: {exc}",
                                 status=503) from exc
        return wire.document(resp, ticket_id=ticket_id, action=action)

    def _ticket(self, doc: dict[str, Any]) -> Ticket:
        ticket, reason = wire.ticket_of(doc)
        self._reasons[ticket.id] = reason
        return ticket

    async def request(self, action: str, args: dict[str, Any], *, reason: str,
                      requested_by: str, summary: str | None = None,
                      evidence: Sequence[Evidence | dict[str, Any]] = (),
                      confidence: float | None = None, agent: str | None = None,
                      run_id: str | None = None, idempotency_key: str | None = None,
                      args_model: type[BaseModel] | None = None) -> Ticket:
        args = wire.validated(action, args, args_model)
        body = wire.request_body(action, args, reason=reason, requested_by=requested_by,
                                 summary=summary, evidence=evidence, confidence=confidence,
                                 run_id=run_id, idempotency_key=idempotency_key)
        doc = await self._call("POST", "/v1/requests", body=body, action=action)
        ticket, why = wire.created(doc)
        self._reasons[ticket.id] = why
        return ticket

    def raise_unless_approved(self, ticket: Ticket) -> None:
        """The typed error for a ticket that may not run (with the reviewer's reason as last
        read); nothing for an approved one."""
        raise_unless_approved(ticket, lambda _kind: self._reasons.get(ticket.id))

    async def get(self, ticket_id: str) -> Ticket:
        return self._ticket(await self._call("GET", f"/v1/requests/{ticket_id}",
                                             ticket_id=ticket_id))

    async def wait(self, ticket_id: str, timeout: float | timedelta | None = None) -> Ticket:
        limit = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            step = wire.wait_step(deadline)
            ticket = self._ticket(await self._call(
                "GET", f"/v1/requests/{ticket_id}", params={"wait": step},
                timeout=step + 30.0, ticket_id=ticket_id))
            if ticket.status != TicketStatus.PENDING or wire.waited_out(deadline):
                return ticket

    def last_reason(self, ticket_id: str) -> str | None:
        """The reviewer's reason (or question) on the ticket as last read by this client."""
        return self._reasons.get(ticket_id)

    async def cancel(self, ticket_id: str, reason: str, *, actor: str = "agent") -> Ticket:
        return self._ticket(await self._call("POST", f"/v1/requests/{ticket_id}/cancel",
                                             body={"reason": reason}, ticket_id=ticket_id))

    async def answer(self, ticket_id: str, text: str, *,
                     evidence: Sequence[Evidence | dict[str, Any]] = (),
                     actor: str = "agent") -> Ticket:
        return self._ticket(await self._call(
            "POST", f"/v1/requests/{ticket_id}/answer",
            body={"text": text, "evidence": wire.evidence_list(evidence)}, ticket_id=ticket_id))

    async def _claim(self, ticket: Ticket, args: dict[str, Any] | None,
                     action: str) -> dict[str, Any]:
        try:
            return await self._call("POST", f"/v1/requests/{ticket.id}/execution",
                                    body={"args": args, "action": action}, ticket_id=ticket.id)
        except GatewayRefused as exc:
            if exc.code not in wire.CLAIM_REFUSED:
                raise
            fresh = await self.get(ticket.id)
            raise_unless_approved(fresh, lambda _k: self._reasons.get(fresh.id))
            raise ApprovalConsumed(fresh) from None

    async def claim(self, ticket_id: str, args: dict[str, Any], *, action: str) -> Ticket:
        """Consume the approval for exactly ``action`` and ``args`` (by hash), once, for a
        tool this client does not run itself; then :meth:`report` how it ended."""
        claimed = await self._claim(await self.get(ticket_id), args, action)
        return wire.ticket_of(claimed["ticket"])[0]

    async def report(self, ticket_id: str, *, ok: bool, summary: str | None = None,
                     error: str | None = None) -> None:
        await self._report(ticket_id, ok=ok, summary=summary, error=error)

    async def _report(self, ticket_id: str, *, ok: bool, summary: str | None = None,
                      error: str | None = None) -> None:
        await self._call("POST", f"/v1/requests/{ticket_id}/outcome",
                         body={"ok": ok, "summary": summary, "error": error},
                         ticket_id=ticket_id)

    async def execute(self, ticket_id: str, tool: Tool, args: dict[str, Any] | None = None,
                      *, action: str | None = None,
                      revalidate: Callable[[dict[str, Any]], bool] | None = None,
                      args_model: type[BaseModel] | None = None) -> Any:
        """Run ``tool`` (sync or async) once with the approved arguments, only for the action
        it approved: a gated tool brings its action; a plain callable names it (``action=``).
        """
        ticket = await self.get(ticket_id)
        gated: GateInfo | None = getattr(tool, GATE_INFO, None)
        if gated is not None:
            if action is not None and action != gated.action:
                raise ActionMismatch(ticket.id, gated.action, action)
            return await self._execute(ticket, gated.tool, args, action=gated.action,
                                       revalidate=revalidate or gated.revalidate,
                                       args_model=args_model or gated.args_model)
        if action is None:
            raise ActionMismatch(ticket.id, ticket.action, None)
        return await self._execute(ticket, tool, args, action=action, revalidate=revalidate,
                                   args_model=args_model)

    async def resume(self, ticket_id: str, tool: Tool, *, action: str | None = None,
                     revalidate: Callable[[dict[str, Any]], bool] | None = None,
                     args_model: type[BaseModel] | None = None) -> Any:
        return await self.execute(ticket_id, tool, action=action, revalidate=revalidate,
                                  args_model=args_model)

    async def _execute(self, ticket: Ticket, tool: Tool, args: dict[str, Any] | None, *,
                       action: str, revalidate: Callable[[dict[str, Any]], bool] | None,
                       args_model: type[BaseModel] | None) -> Any:
        raise_unless_approved(ticket, lambda _k: self._reasons.get(ticket.id))
        claimed = await self._claim(ticket, args, action)
        ticket, _ = wire.ticket_of(claimed["ticket"])
        call_args: dict[str, Any] = dict(claimed["args"])
        try:
            wire.check(ticket, call_args, args_model, revalidate)
        except (InvalidArguments, wire.RevalidationFailed) as exc:
            await self._report(ticket.id, ok=False, error=str(exc))
            raise
        token = wire.RECEIPT.set(claimed["receipt"])
        try:
            result = tool(**call_args)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            await self._report(ticket.id, ok=False, error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            wire.RECEIPT.reset(token)
        await self._report(ticket.id, ok=True, summary=wire.summary(result))
        return result

    def gate(self, action: str | None = None, *, args_model: type[BaseModel] | None = None,
             mode: Literal["wait", "defer"] = "wait",
             revalidate: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float | None = None, requested_by: str | None = None,
             ) -> Callable[[Tool], Callable[..., Awaitable[Any]]]:
        """Decorator: the tool behind the gate, as a coroutine function taking the tool's
        keyword arguments plus ``_reason=`` and ``_requested_by=``."""

        def wrap(tool: Tool) -> Callable[..., Awaitable[Any]]:
            name = action or tool.__name__

            async def gated(*, _reason: str = "", _requested_by: str | None = None,
                            **args: Any) -> Any:
                who = _requested_by or requested_by
                if not who:
                    raise ValueError("requested_by (the Slack user the agent acts for) "
                                     "is required")
                ticket = await self.request(name, args, requested_by=who,
                                            reason=_reason or f"the agent wants to run {name}",
                                            args_model=args_model)
                if ticket.status == TicketStatus.PENDING:
                    if mode == "defer":
                        raise ApprovalPending(ticket)
                    ticket = await self.wait(ticket.id, timeout)
                return await self._execute(ticket, tool, None, action=name,
                                           revalidate=revalidate, args_model=args_model)

            setattr(gated, GATE_INFO, GateInfo(tool, name, revalidate, args_model))
            gated.__name__ = getattr(tool, "__name__", name)
            gated.__doc__ = tool.__doc__
            return gated

        return wrap
