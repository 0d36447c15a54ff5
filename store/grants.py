"""Standing grants: a reviewer's approval of one ticket, extended for a while to similar
requests (same action, agent, requester and route; arguments within bounds; a few uses).

A grant "until end of day" ends at the end of the granter's own day, in the time zone their
form named (computed when they submitted it: :attr:`GrantSpec.until`).

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
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as wall_time
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from store.models import ReviewType, RiskTier

Span = Literal["30m", "2h", "eod"]
SPANS: dict[str, str] = {"30m": "30 min", "2h": "2 h", "eod": "until the end of the granter's day"}
MAX_USES = 100
EOD_MIN_LEFT = timedelta(minutes=5)
"""A day that ends sooner than this is refused in the form (choose 30 min or 2 h instead):
a grant that would stop almost at once is a surprise, not a convenience."""
EOD_MAX_AHEAD = timedelta(hours=26)
"""The furthest a day's end can be: a 25-hour day (daylight saving time ends) and an hour
for clocks that disagree. A later ``until`` is refused: never longer than the form said."""
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
    until: AwareDatetime | None = None
    """For ``eod``: the end of the granter's day, computed from the instant they submitted
    the form. None (a form from before time zones): the end of the UTC day."""
    zone: str | None = Field(default=None, max_length=64)
    """For ``eod``: the time zone ``until`` ends the day in, as the form named it."""

    @model_validator(mode="after")
    def _until_only_for_eod(self) -> Self:
        if self.span != "eod" and (self.until is not None or self.zone is not None):
            raise ValueError("only an end-of-day grant has an until and a zone")
        return self


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
    zone: str | None = None
    """An end-of-day grant: the time zone whose day it ends with."""
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


def end_of_day(at: datetime, zone: tzinfo) -> datetime:
    """When the day that ``at`` falls in ends in ``zone``: the next local midnight, in UTC.

    Daylight saving time is the zone's business: a day may be 23 or 25 hours long. Where
    the clocks jump at midnight (local midnight does not exist, as in America/Santiago in
    September) the day ends at the jump, which is when the next day starts."""
    return day_start(at.astimezone(zone).date() + timedelta(days=1), zone)


def day_start(day: date, zone: tzinfo) -> datetime:
    """When ``day`` starts in ``zone`` (its local midnight, or the jump where the clocks
    jump at midnight), in UTC."""
    return datetime.combine(day, wall_time(0), tzinfo=zone).astimezone(UTC)


def grant_expiry(spec: GrantSpec, now: datetime) -> datetime:
    """When a grant made at ``now`` (the database's clock) for ``spec`` ends. Raises
    ``ValueError`` (saying why) for an end of day that has passed or is too far ahead."""
    if spec.span == "30m":
        return now + timedelta(minutes=30)
    if spec.span == "2h":
        return now + timedelta(hours=2)
    if spec.until is None:
        return end_of_day(now, UTC)
    until = spec.until.astimezone(UTC)
    if until <= now:
        raise ValueError(f"the end of day it was granted until ({until:%H:%M} UTC) had "
                         "passed when the approval was recorded")
    if until - now > EOD_MAX_AHEAD:
        raise ValueError("its end of day is more than a day away")
    return until


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
