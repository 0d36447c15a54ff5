"""Standing grants: a reviewer's approval of one ticket, extended for a while to similar
requests (same action, agent, requester and route; arguments within bounds; a few uses).

A grant is created in the transaction that records the approval it comes from
(:meth:`store.ledger.Ledger.record_decision` with ``grant=``). Each use is one guarded
UPDATE (``uses < max_uses``, not revoked, not expired by the database's clock) in the same
transaction that opens the new ticket and records its approval in the granter's name, so two
requests racing for the last use never both get it, and a revocation stops matching at once.

A grant made by a delegate carries the principal's authority and names the delegation that
lent it: it matches only while that delegation is active (checked in the using transaction,
by the database's clock) and while the principal is still an approver of the route.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from store.models import ReviewType, RiskTier

Span = Literal["30m", "2h", "eod"]
SPANS: dict[str, str] = {"30m": "30 min", "2h": "2 h", "eod": "until end of day (UTC)"}
MAX_USES = 100
_EMAIL = re.compile(r"[^@\s]+@([^@\s]+\.[^@\s]+)")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bound(_Frozen):
    """What one argument of a matching request may be. Exactly one field is set."""

    max: float | None = None
    """A number between 0 and ``max`` (the approved amount, or less)."""
    equals: Any = None
    """Exactly this JSON value (set together with ``exact``)."""
    exact: bool = False
    domain: str | None = None
    """An email address at this domain (case-insensitive)."""

    def holds(self, value: Any) -> bool:
        if self.max is not None:
            return _number(value) and 0 <= value <= self.max
        if self.domain is not None:
            return isinstance(value, str) and _domain(value) == self.domain
        return self.exact and _same(value, self.equals)

    def describe(self, name: str) -> str:
        if self.max is not None:
            return f"{name} ≤ {self.max:g} (and not negative)"
        if self.domain is not None:
            return f"{name}: an address at {self.domain}"
        return f"{name} = {_shown(self.equals)}"


class GrantSpec(_Frozen):
    """What a reviewer confirmed in the grant form: for how long, how many uses, and the
    bounds the form showed (checked again against the ticket when it is recorded)."""

    span: Span
    max_uses: int = Field(ge=1, le=MAX_USES)
    bounds: dict[str, Bound]


class Grant(_Frozen):
    id: str
    ticket_id: str
    """The ticket whose approval created it."""
    action: str
    agent: str | None
    requested_by: str
    route: str
    channel: str | None
    thread_ts: str | None
    """Where lines about its uses go: the thread of the card it was granted on."""
    bounds: dict[str, Bound]
    max_uses: int
    uses: int
    granted_by: str
    granted_at: datetime
    expires_at: datetime
    revoked_by: str | None = None
    revoked_at: datetime | None = None
    policy_version: str
    on_behalf_of: str | None = None
    """A delegate's grant: the principal whose authority it carries (re-authorised at use)."""
    delegation: int | None = None
    """The delegation that lent it: the grant matches only while it is active."""

    @property
    def authority(self) -> str:
        """Whose authority each use carries: the principal's for a delegate's grant."""
        return self.on_behalf_of or self.granted_by

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at and self.uses < self.max_uses

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.uses >= self.max_uses:
            return "used up"
        return "active" if now < self.expires_at else "expired"


# -- similarity ------------------------------------------------------------------------


def propose_bounds(args: Mapping[str, Any]) -> dict[str, Bound]:
    """The bounds a grant on these arguments proposes: numbers up to the approved value
    (not negative), email addresses at the same domain, everything else exactly equal."""
    out: dict[str, Bound] = {}
    for name, value in args.items():
        if _number(value) and value >= 0:
            out[name] = Bound(max=float(value))
        elif isinstance(value, str) and _domain(value) is not None:
            out[name] = Bound(domain=_domain(value))
        else:
            out[name] = Bound(equals=value, exact=True)
    return out


def outside_bounds(bounds: Mapping[str, Bound], args: Mapping[str, Any]) -> str | None:
    """None when ``args`` are within ``bounds``, else why not. An argument the bounds do not
    name, or one they name that is missing, is outside: a grant covers only what it shows."""
    extra = sorted(set(args) - set(bounds))
    if extra:
        return f"argument(s) {', '.join(extra)} were not part of the grant"
    for name, bound in bounds.items():
        if name not in args:
            return f"argument {name} is missing"
        if not bound.holds(args[name]):
            return f"{name} is outside the grant ({bound.describe(name)})"
    return None


def grant_expiry(span: str, now: datetime) -> datetime:
    """When a grant made at ``now`` (the database's clock) for ``span`` ends."""
    if span == "30m":
        return now + timedelta(minutes=30)
    if span == "2h":
        return now + timedelta(hours=2)
    if span == "eod":
        return now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    raise ValueError(f"unknown grant span {span!r}; use one of {', '.join(SPANS)}")


def ineligible(*, tier: str, approvals_required: int, review_type: str) -> str | None:
    """Why a ticket of this kind can never carry a grant (None: it can)."""
    if tier == RiskTier.CRITICAL.value:
        return "critical requests are never covered by standing grants"
    if approvals_required > 1:
        return "requests that need two or more approvers are never covered by standing grants"
    if review_type != ReviewType.APPROVAL.value:
        return "only approval requests can be covered by standing grants"
    return None


def use_note(grant: Grant, use: int) -> str:
    """How an approval by a grant is audited and shown."""
    return (f"approved by standing grant {grant.id} (granted by {grant.granted_by} at "
            f"{grant.granted_at.isoformat(timespec='seconds')}, {use} of {grant.max_uses})")


def new_grant_id() -> str:
    return f"g{int(time.time()):x}{secrets.token_hex(6)}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _domain(value: str) -> str | None:
    found = _EMAIL.fullmatch(value.strip())
    return found.group(1).lower() if found else None


def _same(a: Any, b: Any) -> bool:
    """JSON equality that does not confuse ``True`` with ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(type(a) is type(b) or (_number(a) and _number(b))) and a == b


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 80 else text[:79] + "…"
