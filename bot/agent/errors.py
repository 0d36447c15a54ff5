"""What an agent sees when an action does not simply run: ``ApprovalError`` and its
subclasses (denied, pending, needs info, rejected, expired, taken over, cancelled, consumed,
invalid request and invalid arguments, revalidation failed), plus ``ActionMismatch`` and
``IdempotencyConflict``, which the ledger enforces. The whole tree is defined and drawn in
:mod:`store.errors`; these names are re-exported here and from ``bot``."""

from __future__ import annotations

from store.errors import (
    ActionMismatch,
    ActionNotAllowed,
    AgentUnauthorized,
    ApprovalCancelled,
    ApprovalConsumed,
    ApprovalDenied,
    ApprovalError,
    ApprovalExpired,
    ApprovalNeedsInfo,
    ApprovalPending,
    ApprovalRejected,
    ApprovalTakenOver,
    GatewayRefused,
    IdempotencyConflict,
    InvalidArguments,
    InvalidRequest,
    OutcomeUnknown,
    PlanStepRefused,
    RevalidationFailed,
    SignoffError,
    TooManyPending,
)

__all__ = [
    "ActionMismatch",
    "ActionNotAllowed",
    "AgentUnauthorized",
    "ApprovalCancelled",
    "ApprovalConsumed",
    "ApprovalDenied",
    "ApprovalError",
    "ApprovalExpired",
    "ApprovalNeedsInfo",
    "ApprovalPending",
    "ApprovalRejected",
    "ApprovalTakenOver",
    "GatewayRefused",
    "IdempotencyConflict",
    "InvalidArguments",
    "InvalidRequest",
    "OutcomeUnknown",
    "PlanStepRefused",
    "RevalidationFailed",
    "SignoffError",
    "TooManyPending",
]
