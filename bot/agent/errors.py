"""What an agent sees when an action does not simply run: the ``ApprovalError`` branch of
signoff's one exception tree (defined in :mod:`store.errors`, re-exported here and from
``bot``).

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
        ├── InvalidArguments           the arguments do not fit the tool's model
        └── RevalidationFailed         the revalidate hook said the facts went stale
"""

from __future__ import annotations

from store.errors import (
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
    RevalidationFailed,
    SignoffError,
)

__all__ = [
    "ApprovalCancelled", "ApprovalConsumed", "ApprovalDenied", "ApprovalError",
    "ApprovalExpired", "ApprovalNeedsInfo", "ApprovalPending", "ApprovalRejected",
    "ApprovalTakenOver", "InvalidArguments", "RevalidationFailed", "SignoffError",
]
