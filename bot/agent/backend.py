"""The one seam between the agent-side client and signoff's ledger and Slack.

:class:`~bot.agent.client.ApprovalClient` and its gate speak only to an
:class:`ApprovalBackend`. :class:`~bot.agent.inprocess.InProcessBackend` implements it on a
ledger, a config and a Slack client in the agent's own process; an implementation over HTTP
can stand beside it without touching the client or the gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from escalation.policy import PolicyOutcome
from store.models import DecisionKind, Evidence, Ticket
from store.tickets import OpenCap


@dataclass(frozen=True)
class ApprovalRequest:
    """A proposed action, as the agent asks for it (arguments already validated)."""

    action: str
    args: dict[str, Any]
    reason: str
    requested_by: str
    summary: str | None = None
    evidence: tuple[Evidence, ...] = ()
    confidence: float | None = None
    agent: str | None = None
    run_id: str | None = None
    idempotency_key: str | None = None
    args_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] = field(default_factory=dict)
    """The tool's MCP annotations, from its server (``signoff mcp-proxy``); rules read them."""
    open_cap: int | None = None
    """At most this many of ``agent``'s requests waiting for review at once, counted in the
    transaction that would open one more (``signoff serve`` sets the agent's
    ``--max-pending``); past it, :class:`OpenRequestsCapped` and nothing is opened."""


def cap_of(agent: str | None, open_cap: int | None) -> OpenCap | None:
    """The ledger's cap for a request's ``agent`` and ``open_cap`` (None: uncapped)."""
    return None if agent is None or open_cap is None else OpenCap(agent, open_cap)


class ApprovalBackend(Protocol):
    """What the client needs from signoff. Every method raises a ``SignoffError`` subclass
    when it cannot do what it says; Slack side effects are best effort (the ledger is the
    record)."""

    def evaluate(self, action: str, args: dict[str, Any], *, requested_by: str,
                 confidence: float | None) -> PolicyOutcome:
        """What policy says about an action, without creating anything."""

    def request(self, request: ApprovalRequest) -> Ticket:
        """Policy, then the ticket and its card: ``approved`` (allowed, or covered by a
        standing grant, without a card) or ``pending``.
        Raises ``ApprovalDenied`` when policy denies."""

    def request_claimed(self, request: ApprovalRequest, *,
                        claim_as: str | None) -> tuple[Ticket, bool]:
        """:meth:`request`, with a new ticket policy allows also claimed for execution by
        ``claim_as`` where the backend can do both at once: ``(ticket, claimed)``. A backend
        that cannot answers ``claimed=False`` and the caller claims as usual."""

    def get(self, ticket_id: str) -> Ticket:
        """The ticket as it stands."""

    def wait(self, ticket_id: str, timeout: float | None) -> Ticket:
        """Block until the ticket leaves ``pending`` (or ``timeout`` seconds pass)."""

    def last_reason(self, ticket_id: str, kind: DecisionKind) -> str | None:
        """The reason (or question) of the latest decision of ``kind`` on the ticket."""

    def cancel(self, ticket_id: str, reason: str, *, actor: str) -> Ticket:
        """Withdraw the request; its card shows it."""

    def answer(self, ticket_id: str, text: str, *, evidence: Sequence[Evidence],
               actor: str) -> Ticket:
        """Answer a reviewer's question; the ticket goes back to ``pending``."""

    def start_execution(self, ticket_id: str, *, action: str, args: dict[str, Any],
                        actor: str) -> Ticket:
        """Consume the approval for exactly ``action`` and ``args`` (checked by hash), once;
        ``ActionMismatch`` / ``ArgumentsMismatch`` otherwise, consuming nothing."""

    def finish_execution(self, ticket_id: str, *, ok: bool, actor: str,
                         summary: str | None = None, error: str | None = None) -> Ticket:
        """Record how the execution ended; the card and its thread show it."""

    def close(self) -> None:
        """Release what the backend holds (connections)."""
