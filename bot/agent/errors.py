"""What an agent sees when an action does not simply run.

    SignoffError
    └── ApprovalError                  the action did not (or will not) run as asked
        ├── ApprovalDenied             policy says never (``outcome`` has the rule)
        ├── ApprovalPending            waiting for a human (``ticket_id`` to resume later)
        ├── ApprovalNeedsInfo          a reviewer asked a question (answer, then wait again)
        ├── ApprovalRejected           a reviewer said no (``reviewer``, ``reason`` to re-plan)
        ├── ApprovalExpired            nobody decided in time: a denial, nothing ran
        ├── ApprovalTakenOver          a human owns the task now
        ├── ApprovalCancelled          the request was withdrawn
        ├── ApprovalConsumed           this approval already ran once (``outcome``)
        ├── InvalidRequest             the request itself is malformed (says what to change)
        │   └── InvalidArguments       the arguments are not plain JSON or do not fit the model
        └── RevalidationFailed         the revalidate hook said the facts went stale

Ledger errors (``TicketNotFound``, ``ArgumentsMismatch``, ``ActionMismatch``,
``StoreUnavailable``...) and ``IdempotencyConflict`` come from :mod:`store.errors` (the ledger
enforces them) and share the ``SignoffError`` root.
"""

from __future__ import annotations

from typing import Any

from store.errors import ActionMismatch, IdempotencyConflict, SignoffError
from store.models import Outcome, Ticket

__all__ = [
    "ActionMismatch", "ApprovalCancelled", "ApprovalConsumed", "ApprovalDenied", "ApprovalError",
    "ApprovalExpired", "ApprovalNeedsInfo", "ApprovalPending", "ApprovalRejected",
    "ApprovalTakenOver", "IdempotencyConflict", "InvalidArguments", "InvalidRequest",
    "RevalidationFailed", "SignoffError",
]


class ApprovalError(SignoffError):
    """Base for every outcome in which the requested action did not run as asked."""

    def __init__(self, message: str, *, ticket: Ticket | None = None) -> None:
        super().__init__(message)
        self.ticket = ticket

    @property
    def ticket_id(self) -> str | None:
        return self.ticket.id if self.ticket else None


class ApprovalDenied(ApprovalError):
    def __init__(self, action: str, rule: str, reason: str | None, *,
                 policy_version: str, ticket: Ticket | None = None) -> None:
        super().__init__(f"{action} is denied by policy {policy_version} ({rule})"
                         + (f": {reason}" if reason else ""), ticket=ticket)
        self.action, self.rule, self.reason = action, rule, reason
        self.policy_version = policy_version


class ApprovalPending(ApprovalError):
    """Raised by ``mode="defer"`` gates: store ``ticket_id`` and call ``resume`` later."""

    def __init__(self, ticket: Ticket) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) is waiting for a reviewer",
                         ticket=ticket)


class ApprovalNeedsInfo(ApprovalError):
    def __init__(self, ticket: Ticket, question: str | None) -> None:
        super().__init__(f"ticket {ticket.id}: a reviewer asks: {question or '(no text)'}",
                         ticket=ticket)
        self.question = question


class ApprovalRejected(ApprovalError):
    def __init__(self, ticket: Ticket, reviewer: str | None, reason: str | None) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) was rejected by {reviewer}: "
                         f"{reason or 'no reason given'}", ticket=ticket)
        self.reviewer, self.reason = reviewer, reason


class ApprovalExpired(ApprovalError):
    def __init__(self, ticket: Ticket) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) expired: nobody decided by "
                         f"{ticket.expires_at.isoformat()}; nothing was executed", ticket=ticket)


class ApprovalTakenOver(ApprovalError):
    def __init__(self, ticket: Ticket) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) was taken over by "
                         f"{ticket.decided_by}; a human owns this task now", ticket=ticket)
        self.owner = ticket.decided_by


class ApprovalCancelled(ApprovalError):
    def __init__(self, ticket: Ticket) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) was cancelled", ticket=ticket)


class ApprovalConsumed(ApprovalError):
    """The approval was already used: a second resume never runs the tool again."""

    def __init__(self, ticket: Ticket) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) was already executed "
                         f"(status {ticket.status.value})", ticket=ticket)
        self.outcome: Outcome | None = ticket.outcome


class RevalidationFailed(ApprovalError):
    def __init__(self, ticket: Ticket, detail: Any = None) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}): revalidation refused the "
                         f"approved arguments{': ' + str(detail) if detail else ''}; "
                         "nothing was executed", ticket=ticket)


class InvalidRequest(ApprovalError):
    """Refused at the door, before anything was evaluated or stored: the message says
    which field is wrong and what to change."""

    def __init__(self, action: str, detail: Any, *, what: str = "invalid request") -> None:
        super().__init__(f"{action}: {what}: {detail}")
        self.action = action
        self.detail = detail


class InvalidArguments(InvalidRequest):
    """The proposed (or approved) arguments are not plain JSON or do not fit the tool's
    argument model."""

    def __init__(self, action: str, detail: Any) -> None:
        super().__init__(action, detail, what="invalid arguments")
