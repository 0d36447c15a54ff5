"""Deadlines for a new ticket, from its on-call chain, fixed at creation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
    """When the ticket expires and when the sweep first looks at it."""
    if chain is None:
        return Deadlines(created_at + (expire_after or FALLBACK_EXPIRY), None, None)
    spec = config.chain(chain)
    expires_at = created_at + (expire_after or spec.expire_after)
    steps = [s for s in (spec.remind_every, spec.levels[0].after if spec.levels else None) if s]
    first = created_at + min(steps) if steps else expires_at
    snapshot = {"chain": chain, **spec.model_dump(mode="json")}
    return Deadlines(expires_at, min(first, expires_at), snapshot)
