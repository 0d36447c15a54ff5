"""What the HTTP clients (sync and async) share: request bodies, tickets from JSON, and the
API's error codes turned back into the exceptions the embedded client raises."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel

from bot.agent import arguments
from bot.agent import errors as agent_errors
from bot.agent.errors import (
    ActionNotAllowed,
    AgentUnauthorized,
    ApprovalDenied,
    GatewayRefused,
    InvalidArguments,
    RevalidationFailed,
    TooManyPending,
)
from store import errors as store_errors
from store.errors import (
    ActionMismatch,
    ArgumentsMismatch,
    SignoffError,
    TicketNotFound,
    TransitionRefused,
)
from store.models import Evidence, Ticket

#: The receipt of the execution in progress: a gated tool reads it with ``current_receipt()``
#: and hands it to the service that acts, which verifies it (``bot.receipts.verify``).
RECEIPT: ContextVar[str | None] = ContextVar("signoff_receipt", default=None)
MAX_WAIT_S = 60.0
CLAIM_REFUSED = ("already_claimed", "not_approved")


def current_receipt() -> str | None:
    return RECEIPT.get()


def wait_step(deadline: float | None) -> float:
    """The next long-poll's ``wait``: a minute at most, what is left of ``deadline``."""
    left = MAX_WAIT_S if deadline is None else deadline - time.monotonic()
    return round(max(0.0, min(MAX_WAIT_S, left)), 3)


def waited_out(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def request_body(action: str, args: dict[str, Any], *, reason: str, requested_by: str,
                 summary: str | None, evidence: Sequence[Evidence | dict[str, Any]],
                 confidence: float | None, run_id: str | None,
                 idempotency_key: str | None) -> dict[str, Any]:
    return {"action": action, "args": args, "reason": reason, "requested_by": requested_by,
            "summary": summary, "evidence": evidence_list(evidence),
            "confidence": confidence, "run_id": run_id, "idempotency_key": idempotency_key}


def evidence_list(evidence: Sequence[Evidence | dict[str, Any]]) -> list[dict[str, Any]]:
    return [Evidence.model_validate(e).model_dump(mode="json") for e in evidence]


def ticket_of(doc: dict[str, Any]) -> tuple[Ticket, str | None]:
    """The ticket in an API answer, and the reviewer's reason or question if any."""
    fields = dict(doc)
    reason = fields.pop("decision_reason", None)
    return Ticket.model_validate(fields), reason


def created(doc: dict[str, Any]) -> tuple[Ticket, str | None]:
    """``POST /v1/requests``'s answer: a ticket, or :class:`ApprovalDenied`."""
    if doc.get("status") == "denied" and doc.get("id") is None:
        raise ApprovalDenied(doc["action"], doc["rule"], doc.get("reason"),
                             policy_version=doc["policy_version"])
    return ticket_of(doc)


def document(resp: Any, *, ticket_id: str | None, action: str | None) -> dict[str, Any]:
    """An API answer's JSON body, or the typed error its status and ``error`` code stand for
    (the one reading of a response, for the sync and the async client alike)."""
    doc: dict[str, Any] = resp.json() if resp.content else {}
    if resp.status_code >= 400:
        raise error_for(resp.status_code, doc, ticket_id=ticket_id, action=action,
                        retry_after=resp.headers.get("Retry-After"))
    return doc


def error_for(status: int, doc: dict[str, Any], *, ticket_id: str | None = None,
              action: str | None = None, retry_after: str | None = None) -> SignoffError:
    """The exception the embedded client would have raised for this API error."""
    code = str(doc.get("error", "http_error"))
    message = str(doc.get("message", f"HTTP {status}"))
    if code == "unauthorized":
        return AgentUnauthorized(code, message, status=status)
    if code == "action_not_allowed":
        return ActionNotAllowed(code, message, status=status)
    if code == "too_many_pending":
        return TooManyPending(code, message, status=status,
                              retry_after=float(retry_after) if retry_after else None)
    if code == "not_found" and ticket_id is not None:
        return TicketNotFound(ticket_id)
    if code == "invalid_arguments":
        return InvalidArguments(action or "?", message)
    exc = _typed(code, message, ticket_id or "?")
    return exc if exc is not None else GatewayRefused(code, message, status=status)


def _typed(code: str, message: str, ticket_id: str) -> SignoffError | None:
    """A ledger error by its code (``arguments_mismatch``, ``already_decided``,
    ``idempotency_conflict``...), carrying the server's message."""
    name = "".join(part.title() for part in code.split("_"))
    cls = getattr(store_errors, name, None) or getattr(agent_errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, SignoffError)):
        return None
    exc: SignoffError = cls.__new__(cls)
    exc.args = (message,)
    if isinstance(exc, TransitionRefused | ArgumentsMismatch | ActionMismatch):
        exc.ticket_id = ticket_id
    return exc


def validated(action: str, args: dict[str, Any],
              model: type[BaseModel] | None) -> dict[str, Any]:
    return arguments.validated(action, args, model)


def check(ticket: Ticket, args: dict[str, Any], model: type[BaseModel] | None,
          revalidate: Callable[[dict[str, Any]], bool] | None) -> None:
    """The claimed arguments against the tool's model and the revalidate hook."""
    arguments.check_model(ticket, args, model)
    if revalidate is not None and not revalidate(dict(args)):
        raise RevalidationFailed(ticket)


def summary(result: Any) -> str:
    return arguments.summary(result)


__all__ = ["RevalidationFailed", "check", "current_receipt", "summary"]
