"""The escalation sweep's records: steps, cursors, and what a sweep writes and reads.

Plain data, shared by :mod:`store.sweep` (which writes and reads them) and the engine. The
table is :class:`store.tables.EscalationStepRow`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store.models import SlackRef, Ticket, TicketStatus

SWEEP_ACTOR = "signoff"
OPEN_STATUSES = (TicketStatus.PENDING.value, TicketStatus.NEEDS_INFO.value)


class StepStatus:
    RECORDED = "recorded"  # written; its effect was attempted once after the commit
    SENT = "sent"
    SKIPPED = "skipped"  # overtaken while the sweep was behind; never sent
    RETRYING = "retrying"  # some targets failed for a passing reason; due again at retry_at
    SENDING = "sending"  # a retry is under way
    FAILED = "failed"  # some targets could not be reached; given up
    ABANDONED = "abandoned"  # a retry no longer needed: the ticket was decided


@dataclass(frozen=True)
class Cursor:
    """Where a ticket's escalation stands: the stage's ``(loop, level)`` and its next step."""

    loop: int
    level: int
    next_action_at: datetime | None

    @classmethod
    def of(cls, ticket: Ticket) -> Cursor:
        return cls(ticket.escalation_loop, ticket.escalation_level, ticket.next_action_at)


@dataclass(frozen=True)
class StepRecord:
    """A step to write. ``audit_kind`` None writes no audit event (skipped steps)."""

    loop: int
    level: int
    step: str
    kind: str
    due_at: datetime
    targets: tuple[str, ...] = ()
    status: str = StepStatus.RECORDED
    audit_kind: str | None = None
    audit_data: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, int, str]:
        return self.loop, self.level, self.step


@dataclass(frozen=True)
class EscalationStep:
    """A recorded step, as read back."""

    id: int
    ticket_id: str
    loop: int
    level: int
    step: str
    kind: str
    due_at: datetime
    recorded_at: datetime
    owner: str
    status: str
    targets: tuple[str, ...]
    pending: tuple[str, ...]
    attempts: int
    retry_at: datetime | None
    error: str | None
    epoch: int = 0
    """The ticket's escalation epoch when the step was recorded (see ``Ticket``)."""


@dataclass(frozen=True)
class Delivery:
    """What happened when a step's effect was performed (or retried)."""

    step_id: int
    ticket_id: str
    failed: tuple[tuple[str, str], ...] = ()
    """``(target, error)`` for every target that was not reached."""
    retry: tuple[str, ...] = ()
    """Targets to try again at ``retry_at`` (a subset of the failed ones)."""
    retry_at: datetime | None = None
    messages: tuple[SlackRef, ...] = ()
    """DMs posted, remembered with the ticket (the bot updates them when it is decided)."""
    attempt: int = 1


@dataclass(frozen=True)
class StepPlan:
    """What one claimed ticket needs recorded: its steps, and where its cursor goes.
    ``ticket`` is the ticket as claimed; its cursor is the one expected still to hold."""

    ticket: Ticket
    cursor: Cursor
    steps: tuple[StepRecord, ...]
    expire: bool = False


@dataclass(frozen=True)
class Recorded:
    """A plan that was written: the ticket as it is now, and the new step ids by key."""

    ticket: Ticket
    ids: dict[tuple[int, int, str], int]


class Refused:
    """A plan whose expiry the database's clock refused (the deadline has not passed)."""


REFUSED = Refused()


def outcome_values(d: Delivery) -> dict[str, Any]:
    """The step row's columns after a delivery (every key always present)."""
    if d.retry:
        return {"status": StepStatus.RETRYING, "pending": list(d.retry),
                "retry_at": d.retry_at, "error": d.failed[0][1] if d.failed else None}
    if d.failed:
        return {"status": StepStatus.FAILED, "pending": [t for t, _ in d.failed],
                "retry_at": None, "error": "; ".join(f"{t}: {e}" for t, e in d.failed)[:2000]}
    return {"status": StepStatus.SENT, "pending": [], "retry_at": None, "error": None}
