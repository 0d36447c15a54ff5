"""The ticket state machine as a table.

The ledger turns each entry into one conditional UPDATE (``WHERE status IN (...) AND
version = :v``), so the table is the single source of truth for what may happen when.
"""

from __future__ import annotations

from enum import StrEnum

from store.models import TicketStatus as S


class Event(StrEnum):
    APPROVE_PARTIAL = "approve_partial"  # an approval that still leaves approvals missing
    APPROVE = "approve"  # the approval that completes the count
    EDIT = "edit"  # approve with changed arguments (completes the count)
    EDIT_PARTIAL = "edit_partial"  # changed arguments on a multi-approval ticket
    REJECT = "reject"
    REQUEST_INFO = "request_info"
    ANSWER = "answer"
    TAKE_OVER = "take_over"
    CANCEL = "cancel"
    EXPIRE = "expire"
    START_EXECUTION = "start_execution"
    FINISH_OK = "finish_ok"
    FINISH_FAILED = "finish_failed"
    LOSE_EXECUTION = "lose_execution"  # the execution lease ran out with no outcome
    RESOLVE_OK = "resolve_ok"  # a human found that the lost execution succeeded
    RESOLVE_FAILED = "resolve_failed"  # ... or that it failed (or never happened)
    BREAK_GLASS = "break_glass"  # a responder approves alone, with a justification


_OPEN = (S.PENDING, S.NEEDS_INFO)

TRANSITIONS: dict[tuple[S, Event], S] = {}
for _s in _OPEN:
    TRANSITIONS.update(
        {
            (_s, Event.APPROVE_PARTIAL): S.PENDING,
            (_s, Event.APPROVE): S.APPROVED,
            (_s, Event.EDIT): S.APPROVED,
            (_s, Event.EDIT_PARTIAL): S.PENDING,
            (_s, Event.REJECT): S.REJECTED,
            (_s, Event.REQUEST_INFO): S.NEEDS_INFO,
            (_s, Event.TAKE_OVER): S.TAKEN_OVER,
            (_s, Event.CANCEL): S.CANCELLED,
            (_s, Event.EXPIRE): S.EXPIRED,
            (_s, Event.BREAK_GLASS): S.APPROVED,
        }
    )
TRANSITIONS[(S.NEEDS_INFO, Event.ANSWER)] = S.PENDING
# The agent may still withdraw an approved request before it runs.
TRANSITIONS[(S.APPROVED, Event.CANCEL)] = S.CANCELLED
TRANSITIONS[(S.APPROVED, Event.START_EXECUTION)] = S.EXECUTING
TRANSITIONS[(S.EXECUTING, Event.FINISH_OK)] = S.EXECUTED
TRANSITIONS[(S.EXECUTING, Event.FINISH_FAILED)] = S.FAILED
# A killed executor leaves no outcome: after its lease the sweep says so, and only a human
# (or the executor's own late report) settles it. Nothing runs again by itself.
TRANSITIONS[(S.EXECUTING, Event.LOSE_EXECUTION)] = S.OUTCOME_UNKNOWN
TRANSITIONS[(S.OUTCOME_UNKNOWN, Event.RESOLVE_OK)] = S.EXECUTED
TRANSITIONS[(S.OUTCOME_UNKNOWN, Event.RESOLVE_FAILED)] = S.FAILED
TRANSITIONS[(S.OUTCOME_UNKNOWN, Event.FINISH_OK)] = S.EXECUTED
TRANSITIONS[(S.OUTCOME_UNKNOWN, Event.FINISH_FAILED)] = S.FAILED

#: Events that are a reviewer's decision: refused after the deadline, by the database's clock.
DECISION_EVENTS = frozenset(
    {
        Event.APPROVE_PARTIAL,
        Event.APPROVE,
        Event.EDIT,
        Event.EDIT_PARTIAL,
        Event.REJECT,
        Event.REQUEST_INFO,
        Event.TAKE_OVER,
        Event.BREAK_GLASS,
    }
)


def next_status(status: S, event: Event) -> S | None:
    """The status after ``event``, or None when the state machine forbids it."""
    return TRANSITIONS.get((status, event))


def sources(event: Event) -> tuple[S, ...]:
    """Every status from which ``event`` is allowed (the guard of its UPDATE)."""
    return tuple(s for (s, e) in TRANSITIONS if e == event)
