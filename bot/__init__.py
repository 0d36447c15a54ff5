"""signoff: the Slack- and agent-facing side.

Agents use :class:`ApprovalClient` and catch the :class:`ApprovalError` family::

    from bot import ApprovalClient, ApprovalRejected
"""

from bot.agent.client import ApprovalClient
from bot.agent.errors import (
    ApprovalCancelled,
    ApprovalConsumed,
    ApprovalDenied,
    ApprovalError,
    ApprovalExpired,
    ApprovalNeedsInfo,
    ApprovalPending,
    ApprovalRejected,
    ApprovalTakenOver,
    InvalidArguments,
    InvalidRequest,
    RevalidationFailed,
)
from bot.agent.gate import GatedTool
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
from store.models import Evidence, Ticket, TicketStatus

__all__ = [
    "ActionMismatch",
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
    "ConfigError",
    "Evidence",
    "GatedTool",
    "IdempotencyConflict",
    "InvalidArguments",
    "InvalidRequest",
    "RevalidationFailed",
    "SignoffError",
    "StoreError",
    "StoreUnavailable",
    "Ticket",
    "TicketNotFound",
    "TicketStatus",
]
