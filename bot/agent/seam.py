"""The one interface a gated tool needs from an approval client, whichever the transport:
in-process (:class:`~bot.agent.client.ApprovalClient`, holding the ledger and the Slack
token) or HTTP (:class:`~bot.agent.http.HttpApprovalClient`, holding only a token)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from store.models import Evidence, Ticket

T = TypeVar("T")


class Approvals(Protocol):
    def request(self, action: str, args: dict[str, Any], *, reason: str, requested_by: str,
                summary: str | None = None, evidence: Sequence[Evidence | dict[str, Any]] = (),
                confidence: float | None = None, agent: str | None = None,
                run_id: str | None = None, idempotency_key: str | None = None,
                args_model: type[BaseModel] | None = None) -> Ticket: ...

    def get(self, ticket_id: str) -> Ticket: ...

    def wait(self, ticket_id: str, timeout: float | timedelta | None = None) -> Ticket: ...

    def cancel(self, ticket_id: str, reason: str, *, actor: str = "agent") -> Ticket: ...

    def answer(self, ticket_id: str, text: str, *,
               evidence: Sequence[Evidence | dict[str, Any]] = (),
               actor: str = "agent") -> Ticket: ...

    def execute(self, ticket_id: str, tool: Callable[..., T], args: dict[str, Any] | None = None,
                *, revalidate: Callable[[dict[str, Any]], bool] | None = None,
                args_model: type[BaseModel] | None = None, actor: str = "agent") -> T: ...

    def resume(self, ticket_id: str, tool: Callable[..., T], *,
               revalidate: Callable[[dict[str, Any]], bool] | None = None,
               args_model: type[BaseModel] | None = None) -> T: ...

    def _execute(self, ticket: Ticket, tool: Callable[..., T], args: dict[str, Any] | None,
                 *, revalidate: Callable[[dict[str, Any]], bool] | None,
                 args_model: type[BaseModel] | None, actor: str) -> T: ...

    def close(self) -> None: ...
