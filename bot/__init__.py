"""signoff: the Slack- and agent-facing side.

Agents use :class:`ApprovalClient` and catch the :class:`ApprovalError` family::

    from bot import ApprovalClient, ApprovalRejected
"""

from bot.agent.aio import AsyncApprovalClient
from bot.agent.client import ApprovalClient
from bot.agent.errors import (
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
    InvalidArguments,
    InvalidRequest,
    OutcomeUnknown,
    PlanStepRefused,
    RevalidationFailed,
    TooManyPending,
)
from bot.agent.gate import GatedTool
from bot.agent.http import HttpBackend
from bot.agent.wire import current_receipt
from store.errors import (
    ActionMismatch,
    ApprovalUnverifiable,
    ArgumentsMismatch,
    ConfigError,
    IdempotencyConflict,
    SignoffError,
    StoreError,
    StoreUnavailable,
    TicketNotFound,
)
from store.models import Evidence, PlanProgress, Ticket, TicketStatus

__all__ = [
    "ActionMismatch",
    "ActionNotAllowed",
    "AgentUnauthorized",
    "ApprovalCancelled",
    "ApprovalClient",
    "ApprovalConsumed",
    "ApprovalDenied",
    "ApprovalError",
    "ApprovalExpired",
    "ApprovalNeedsInfo",
    "ApprovalPending",
    "ApprovalRejected",
    "ApprovalTakenOver",
    "ApprovalUnverifiable",
    "ArgumentsMismatch",
    "AsyncApprovalClient",
    "ConfigError",
    "Evidence",
    "GatedTool",
    "GatewayRefused",
    "HttpBackend",
    "IdempotencyConflict",
    "InvalidArguments",
    "InvalidRequest",
    "OutcomeUnknown",
    "PlanProgress",
    "PlanStepRefused",
    "RevalidationFailed",
    "SignoffError",
    "StoreError",
    "StoreUnavailable",
    "Ticket",
    "TicketNotFound",
    "TicketStatus",
    "TooManyPending",
    "current_receipt",
]
