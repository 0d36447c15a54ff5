"""The approval backend over HTTP: the agent holds ``SIGNOFF_URL`` and a token, nothing else.

``ApprovalClient(backend=HttpBackend(url, token))`` (what ``ApprovalClient.from_env()``
builds when ``SIGNOFF_URL`` and ``SIGNOFF_AGENT_TOKEN`` are set) has the same methods, gate
and exceptions as the embedded client, but policy, the ledger and Slack stay in
``signoff serve``: the agent cannot decide, cannot see other agents' tickets, and requests
only the actions its token covers. Waiting is a long-poll the server answers as soon as the
ticket is decided.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import httpx

from bot.agent import wire
from bot.agent.backend import ApprovalRequest
from bot.agent.errors import ApprovalConsumed, GatewayRefused
from bot.agent.gate import raise_unless_approved
from bot.agent.plan_http import HttpPlans
from escalation.policy import PolicyOutcome
from store.models import DecisionKind, Evidence, Ticket, TicketStatus

CONNECT_TIMEOUT_S = 10.0


class HttpBackend(HttpPlans):
    """Thread-safe (one pooled ``httpx.Client``)."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S), transport=transport)
        self._reasons: dict[str, str | None] = {}

    def close(self) -> None:
        self._http.close()

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
        return wire.document(resp, ticket_id=ticket_id, action=action)

    def _ticket(self, doc: dict[str, Any]) -> Ticket:
        ticket, reason = wire.ticket_of(doc)
        self._reasons[ticket.id] = reason
        return ticket

    # -- the backend ------------------------------------------------------------------------

    def evaluate(self, action: str, args: dict[str, Any], *, requested_by: str,
                 confidence: float | None) -> PolicyOutcome:
        raise GatewayRefused("not_offered", "policy is evaluated by signoff serve when you "
                             "request(); the HTTP API has no dry run", status=400)

    def request(self, request: ApprovalRequest) -> Ticket:
        return self.request_claimed(request, claim_as=None)[0]

    def request_claimed(self, request: ApprovalRequest, *,
                        claim_as: str | None) -> tuple[Ticket, bool]:
        """``claim_as``: a new ticket policy allows is also claimed in the same call (for the
        token's agent, whatever the name; the receipt is then ``current_receipt()``).
        ``agent`` and ``open_cap`` are not sent: the server takes both from the token."""
        body = {k: v for k, v in asdict(request).items() if k not in ("agent", "open_cap")}
        body["evidence"] = wire.evidence_list(request.evidence)
        if claim_as is not None:
            body["claim"] = True
        doc = self._call("POST", "/v1/requests", body=body, action=request.action)
        claimed = claim_as is not None and "receipt" in doc  # the answer is the claim's
        if claimed:
            wire.RECEIPT.set(doc["receipt"])
            doc = doc["ticket"]
        ticket, why = wire.created(doc)
        self._reasons[ticket.id] = why
        return ticket, claimed

    def get(self, ticket_id: str) -> Ticket:
        return self._ticket(self._call("GET", f"/v1/requests/{ticket_id}", ticket_id=ticket_id))

    def wait(self, ticket_id: str, timeout: float | None) -> Ticket:
        """Long-polls of up to a minute each, answered the moment a decision commits."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = wire.wait_step(deadline)
            ticket = self._ticket(self._call(
                "GET", f"/v1/requests/{ticket_id}", params={"wait": step},
                timeout=step + 30.0, ticket_id=ticket_id))
            if ticket.status != TicketStatus.PENDING or wire.waited_out(deadline):
                return ticket

    def last_reason(self, ticket_id: str, kind: DecisionKind) -> str | None:
        return self._reasons.get(ticket_id)

    def cancel(self, ticket_id: str, reason: str, *, actor: str) -> Ticket:
        return self._ticket(self._call("POST", f"/v1/requests/{ticket_id}/cancel",
                                       body={"reason": reason}, ticket_id=ticket_id))

    def answer(self, ticket_id: str, text: str, *, evidence: Sequence[Evidence],
               actor: str) -> Ticket:
        return self._ticket(self._call(
            "POST", f"/v1/requests/{ticket_id}/answer",
            body={"text": text, "evidence": wire.evidence_list(evidence)}, ticket_id=ticket_id))

    def start_execution(self, ticket_id: str, *, action: str, args: dict[str, Any],
                        actor: str) -> Ticket:
        """Claim the approval once, for ``action`` only. The receipt is then
        ``current_receipt()`` for the tool."""
        try:
            doc = self._call("POST", f"/v1/requests/{ticket_id}/execution",
                             body={"args": args, "action": action}, ticket_id=ticket_id)
        except GatewayRefused as exc:
            if exc.code not in wire.CLAIM_REFUSED:
                raise
            fresh = self.get(ticket_id)  # decided or claimed meanwhile: say which
            raise_unless_approved(fresh, lambda _kind: self._reasons.get(ticket_id))
            raise ApprovalConsumed(fresh) from None
        wire.RECEIPT.set(doc["receipt"])
        return self._ticket(doc["ticket"])

    def finish_execution(self, ticket_id: str, *, ok: bool, actor: str,
                         summary: str | None = None, error: str | None = None) -> Ticket:
        wire.RECEIPT.set(None)
        return self._ticket(self._call(
            "POST", f"/v1/requests/{ticket_id}/outcome",
            body={"ok": ok, "summary": summary, "error": error}, ticket_id=ticket_id))
