"""One proxied tools/call through signoff: policy, the card and a bounded wait, then exactly
the approved arguments forwarded upstream once, the outcome recorded.

Runs in a worker thread (the approval client is synchronous); the upstream call itself is
made back on the event loop, where the MCP client sessions live."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from bot.agent.arguments import SUMMARY_LIMIT
from bot.agent.backend import ApprovalRequest
from bot.agent.client import ApprovalClient
from bot.agent.errors import ApprovalConsumed, ApprovalDenied, ApprovalError
from bot.mcp.upstreams import ProxiedTool
from bot.render.mcp_text import (
    as_text,
    mcp_denied,
    mcp_not_run,
    mcp_pending,
    mcp_upstream_failed,
)
from store.errors import AlreadyDecided
from store.models import DecisionKind, Ticket, TicketStatus, canonical_json

Forward = Callable[[ProxiedTool, dict[str, Any]], types.CallToolResult]
"""Sends one call upstream (blocking this worker thread until the upstream answers)."""
#: Tickets whose outcome (run, or the reason it did not run) the client already has; the
#: same call again is then a new request.
_SPENT = (TicketStatus.EXECUTED, TicketStatus.FAILED, TicketStatus.EXECUTING)
_MAX_REPEATS = 1000
_RACES = 3
log = logging.getLogger(__name__)


class _LostRace(Exception):
    """Another client of the same person claimed this approval first; nothing ran here."""


@dataclass
class McpGate:
    client: ApprovalClient
    requested_by: str
    wait_s: float
    agent: str = "mcp-proxy"
    delivered: set[str] = field(default_factory=set)
    recorder: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="mcp-outcomes"))
    _next: dict[str, int] = field(default_factory=dict)
    """Per call (key at 0): the key index last used, so a call repeated many times asks
    once, not once per earlier run (after a restart the walk from 0 happens once)."""

    def key(self, tool: ProxiedTool, args: dict[str, Any], n: int) -> str:
        """Same person, same tool, same arguments: the same ticket (until it is spent)."""
        digest = hashlib.sha256(canonical_json(
            [tool.action, args, self.requested_by]).encode()).hexdigest()[:40]
        return f"mcp:{digest}:{n}"

    def ticket_for(self, tool: ProxiedTool, args: dict[str, Any]) -> tuple[Ticket, bool]:
        """The call's ticket, and whether it was created allowed and claimed for this call
        (embedded only: one transaction). Raises ``ApprovalDenied`` when policy denies."""
        base = self.key(tool, args, 0)
        start = self._next.get(base, 0)
        for n in range(start, start + _MAX_REPEATS):
            self._next[base] = n
            ticket, claimed = self._ask(ApprovalRequest(
                action=tool.action, args=args, requested_by=self.requested_by,
                reason=f"an MCP client called {tool.tool.name} on {tool.upstream}",
                summary=(tool.tool.description or tool.tool.title or None),
                agent=self.agent, idempotency_key=self.key(tool, args, n),
                args_schema=tool.tool.input_schema or None, annotations=tool.annotations))
            if claimed or (ticket.status not in _SPENT and ticket.id not in self.delivered):
                return ticket, claimed
        raise ApprovalError(f"{tool.action} was asked {_MAX_REPEATS} times with these arguments")

    def _ask(self, request: ApprovalRequest) -> tuple[Ticket, bool]:
        return self.client.backend.request_claimed(request, claim_as=self.agent)

    def call(self, tool: ProxiedTool, args: dict[str, Any],
             forward: Forward) -> types.CallToolResult:
        for _ in range(_RACES):
            try:
                ticket, claimed = self.ticket_for(tool, args)
            except ApprovalDenied as exc:
                return error(mcp_denied(tool.action, exc.rule, exc.reason))
            if claimed:
                self.delivered.add(ticket.id)
                return self.run(ticket, tool, forward)
            try:
                return self.settle(ticket, tool, forward)
            except _LostRace:
                # Another client of the same person ran this very approval a moment ago:
                # this call is a new request (the next key), not a second run of that one.
                continue
        return error(mcp_not_run(tool.action, "the same call kept being run by other clients"))

    def resume(self, ticket: Ticket, tool: ProxiedTool,
               forward: Forward) -> types.CallToolResult:
        """``signoff_status``: the decision on a ticket asked for earlier."""
        try:
            return self.settle(ticket, tool, forward)
        except _LostRace as exc:
            return error(mcp_not_run(tool.action, str(exc.__cause__)))

    def settle(self, ticket: Ticket, tool: ProxiedTool,
               forward: Forward) -> types.CallToolResult:
        """Wait (bounded) for the decision, then run the approved arguments or say why not."""
        started = time.monotonic()
        if ticket.status.is_open:
            ticket = self.client.wait(ticket.id, self.wait_s)
        if ticket.status.is_open:
            question = (self.client.backend.last_reason(ticket.id, DecisionKind.REQUEST_INFO)
                        if ticket.status == TicketStatus.NEEDS_INFO else None)
            doc = mcp_pending(ticket.id, tool.name, time.monotonic() - started, question)
            return types.CallToolResult(content=[types.TextContent(text=as_text(doc))],
                                        structured_content=doc)
        # Approved and not yet claimed when read: losing the claim means a concurrent run.
        lost_race = ticket.status == TicketStatus.APPROVED and ticket.id not in self.delivered
        self.delivered.add(ticket.id)
        try:
            self.client.raise_unless_approved(ticket)
            # Consumes the approval for exactly the approved arguments, once, under lock.
            # ... and for exactly this tool's action: a ticket of another tool never runs here.
            claimed = self.client.backend.start_execution(ticket.id, action=tool.action,
                                                          args=ticket.final_args,
                                                          actor=self.agent)
        except Exception as exc:
            if lost_race and isinstance(exc, (ApprovalConsumed, AlreadyDecided)):
                raise _LostRace from exc
            return error(mcp_not_run(tool.action, str(exc)))
        return self.run(claimed, tool, forward)

    def run(self, claimed: Ticket, tool: ProxiedTool,
            forward: Forward) -> types.CallToolResult:
        """Forward a claimed ticket's exact final arguments upstream, once."""
        try:
            result = forward(tool, dict(claimed.final_args))
        except Exception as exc:  # sent, and the upstream went away: never resent
            self._record(claimed.id, ok=False, error=f"{type(exc).__name__}: {exc}")
            return error(mcp_upstream_failed(tool.action, tool.upstream,
                                             f"{type(exc).__name__}: {exc}"))
        if result.is_error:
            self._record(claimed.id, ok=False, error=_text(result)[:SUMMARY_LIMIT])
        else:
            self._record(claimed.id, ok=True, summary=_text(result)[:SUMMARY_LIMIT])
        return result

    def _record(self, ticket_id: str, **outcome: Any) -> None:
        """The outcome (and its card and thread updates in Slack) is recorded after the
        result is on its way back: the client does not wait for Slack."""
        self.recorder.submit(self._finish, ticket_id, outcome)

    def _finish(self, ticket_id: str, outcome: dict[str, Any]) -> None:
        try:
            self.client.backend.finish_execution(ticket_id, actor=self.agent, **outcome)
        except Exception:  # the execution lease reports it lost; nothing to resend
            log.exception("outcome of %s not recorded", ticket_id)

    def close(self) -> None:
        """Records every outcome still queued."""
        self.recorder.shutdown(wait=True)


def error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def _text(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))
