"""The approval client over HTTP: the agent holds ``SIGNOFF_URL`` and a token, nothing else.

Same methods, gate and exceptions as the embedded :class:`~bot.agent.client.ApprovalClient`,
but policy, the ledger and Slack stay in ``signoff serve``: the agent cannot decide, cannot
see other agents' tickets, and can request only the actions its token covers. Waiting is a
long-poll the server answers as soon as the ticket is decided.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from bot.agent import wire
from bot.agent.client import Mode
from bot.agent.errors import ApprovalConsumed, GatewayRefused, InvalidArguments
from bot.agent.gate import GatedTool, raise_unless_approved
from store.models import Evidence, Ticket, TicketStatus

T = TypeVar("T")
CONNECT_TIMEOUT_S = 10.0


class HttpApprovalClient:
    """Thread-safe (one ``httpx.Client``, pooled connections)."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S), transport=transport)
        self._reasons: dict[str, str | None] = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpApprovalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, body: Any = None, params: Any = None,
              timeout: float | None = None, ticket_id: str | None = None,
              action: str | None = None) -> dict[str, Any]:
        try:
            resp = self._http.request(method, path, json=body, params=params,
                                      timeout=timeout if timeout is not None
                                      else httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise GatewayRefused("unavailable", f"cannot reach signoff at {self.url}: {exc}",
                                 status=503) from exc
        doc: dict[str, Any] = resp.json() if resp.content else {}
        if resp.status_code >= 400:
            raise wire.error_for(resp.status_code, doc, ticket_id=ticket_id, action=action,
                                 retry_after=resp.headers.get("Retry-After"))
        return doc

    def _ticket(self, doc: dict[str, Any]) -> Ticket:
        ticket, reason = wire.ticket_of(doc)
        self._reasons[ticket.id] = reason
        return ticket

    # -- Escalate ---------------------------------------------------------------------------

    def request(self, action: str, args: dict[str, Any], *, reason: str, requested_by: str,
                summary: str | None = None, evidence: Sequence[Evidence | dict[str, Any]] = (),
                confidence: float | None = None, agent: str | None = None,
                run_id: str | None = None, idempotency_key: str | None = None,
                args_model: type[BaseModel] | None = None) -> Ticket:
        """Ask for approval; ``approved`` or ``pending``, or :class:`ApprovalDenied`.
        (``agent`` is ignored: the server records the token's agent.)"""
        args = wire.validated(action, args, args_model)
        body = wire.request_body(action, args, reason=reason, requested_by=requested_by,
                                 summary=summary, evidence=evidence, confidence=confidence,
                                 run_id=run_id, idempotency_key=idempotency_key)
        ticket, why = wire.created(self._call("POST", "/v1/requests", body=body, action=action))
        self._reasons[ticket.id] = why
        return ticket

    # -- Resume -----------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        return self._ticket(self._call("GET", f"/v1/requests/{ticket_id}", ticket_id=ticket_id))

    def wait(self, ticket_id: str, timeout: float | timedelta | None = None) -> Ticket:
        """Until the ticket leaves ``pending`` (or ``timeout`` passes): long-polls the server
        answers the moment a decision commits."""
        limit = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            left = wire.MAX_WAIT_S if deadline is None else deadline - time.monotonic()
            step = max(0.0, min(wire.MAX_WAIT_S, left))
            ticket = self._ticket(self._call(
                "GET", f"/v1/requests/{ticket_id}", params={"wait": round(step, 3)},
                timeout=step + 30.0, ticket_id=ticket_id))
            if ticket.status != TicketStatus.PENDING or step <= 0 or (
                    deadline is not None and time.monotonic() >= deadline):
                return ticket

    def cancel(self, ticket_id: str, reason: str, *, actor: str = "agent") -> Ticket:
        return self._ticket(self._call("POST", f"/v1/requests/{ticket_id}/cancel",
                                       body={"reason": reason}, ticket_id=ticket_id))

    def answer(self, ticket_id: str, text: str, *,
               evidence: Sequence[Evidence | dict[str, Any]] = (),
               actor: str = "agent") -> Ticket:
        return self._ticket(self._call(
            "POST", f"/v1/requests/{ticket_id}/answer",
            body={"text": text, "evidence": wire.evidence_list(evidence)}, ticket_id=ticket_id))

    # -- Enforce ----------------------------------------------------------------------------

    def raise_unless_approved(self, ticket: Ticket) -> None:
        raise_unless_approved(ticket, lambda _kind: self._reasons.get(ticket.id))

    def claim(self, ticket: Ticket, args: dict[str, Any] | None) -> dict[str, Any]:
        """Consume the approval: the approved arguments and the receipt. A ticket claimed
        before (here or elsewhere) raises what the embedded client raises."""
        try:
            return self._call("POST", f"/v1/requests/{ticket.id}/execution",
                              body={"args": args}, ticket_id=ticket.id)
        except GatewayRefused as exc:
            if exc.code not in wire.CLAIM_REFUSED:
                raise
            fresh = self.get(ticket.id)
            self.raise_unless_approved(fresh)
            raise ApprovalConsumed(fresh) from None

    def report(self, ticket_id: str, *, ok: bool, summary: str | None = None,
               error: str | None = None) -> Ticket:
        return self._ticket(self._call(
            "POST", f"/v1/requests/{ticket_id}/outcome",
            body={"ok": ok, "summary": summary, "error": error}, ticket_id=ticket_id))

    def execute(self, ticket_id: str, tool: Callable[..., T], args: dict[str, Any] | None = None,
                *, revalidate: Callable[[dict[str, Any]], bool] | None = None,
                args_model: type[BaseModel] | None = None, actor: str = "agent") -> T:
        return self._execute(self.get(ticket_id), tool, args, revalidate=revalidate,
                             args_model=args_model, actor=actor)

    def resume(self, ticket_id: str, tool: Callable[..., T], *,
               revalidate: Callable[[dict[str, Any]], bool] | None = None,
               args_model: type[BaseModel] | None = None) -> T:
        return self.execute(ticket_id, tool, revalidate=revalidate, args_model=args_model)

    def _execute(self, ticket: Ticket, tool: Callable[..., T], args: dict[str, Any] | None,
                 *, revalidate: Callable[[dict[str, Any]], bool] | None,
                 args_model: type[BaseModel] | None, actor: str) -> T:
        self.raise_unless_approved(ticket)
        claimed = self.claim(ticket, args)
        ticket, _ = wire.ticket_of(claimed["ticket"])
        call_args: dict[str, Any] = dict(claimed["args"])
        try:
            wire.check(ticket, call_args, args_model, revalidate)
        except (InvalidArguments, wire.RevalidationFailed) as exc:
            self.report(ticket.id, ok=False, error=str(exc))
            raise
        token = wire.RECEIPT.set(claimed["receipt"])
        try:
            result = tool(**call_args)
        except Exception as exc:
            self.report(ticket.id, ok=False, error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            wire.RECEIPT.reset(token)
        self.report(ticket.id, ok=True, summary=wire.summary(result))
        return result

    # -- the gate ---------------------------------------------------------------------------

    def gate(self, action: str | None = None, *, args_model: type[BaseModel] | None = None,
             mode: Mode = "wait", revalidate: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float | None = None, requested_by: str | None = None,
             agent: str | None = None) -> Callable[[Callable[..., T]], GatedTool[T]]:
        def wrap(tool: Callable[..., T]) -> GatedTool[T]:
            return GatedTool(self, tool, action=action or tool.__name__, args_model=args_model,
                             mode=mode, revalidate=revalidate, timeout=timeout,
                             requested_by=requested_by, agent=agent)

        return wrap

    def call(self, tool: Callable[..., T], args: dict[str, Any], *, reason: str,
             requested_by: str, action: str | None = None, mode: Mode = "wait",
             args_model: type[BaseModel] | None = None,
             revalidate: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float | None = None, **meta: Any) -> T:
        gated = GatedTool(self, tool, action=action or tool.__name__, args_model=args_model,
                          mode=mode, revalidate=revalidate, timeout=timeout)
        return gated.call(args, reason=reason, requested_by=requested_by, **meta)
