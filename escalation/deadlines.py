"""Deadlines for a new ticket, from its on-call chain, fixed at creation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from escalation.chains import plan
from escalation.config import SignoffConfig

#: Without a chain or an expire_after, a request still never waits forever.
FALLBACK_EXPIRY = timedelta(hours=1)


@dataclass(frozen=True)
class Deadlines:
    expires_at: datetime
    next_action_at: datetime | None
    snapshot: dict[str, Any] | None


def deadlines(config: SignoffConfig, chain: str | None, *, created_at: datetime,
              expire_after: timedelta | None) -> Deadlines:
    """When the ticket expires, when the sweep first looks at it, and the chain snapshot."""
    if chain is None:
        return Deadlines(created_at + (expire_after or FALLBACK_EXPIRY), None, None)
    fixed = plan(config.chain(chain), created_at=created_at, schedules=config.schedules,
                 expire_override=expire_after, name=chain)
    return Deadlines(fixed.expires_at, fixed.next_action_at, fixed.snapshot)
