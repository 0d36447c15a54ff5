"""Grant rows: read as frozen :class:`~store.grants.Grant`, and created inside the
transaction of the approval they come from (:meth:`store.ledger.Ledger.record_decision`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from store import audit
from store.decisions import IN_OWN_RIGHT, Capacity
from store.errors import GrantNotAllowed
from store.grants import (
    Bound,
    Grant,
    GrantSpec,
    grant_expiry,
    ineligible,
    new_grant_id,
    outside_bounds,
)
from store.models import TicketStatus
from store.tables import GrantRow, TicketData


def to_grant(row: GrantRow) -> Grant:
    return Grant(id=row.id, ticket_id=row.ticket_id, action=row.action, agent=row.agent,
                 requested_by=row.requested_by, route=row.route, channel=row.channel,
                 thread_ts=row.thread_ts,
                 bounds={k: Bound(**v) for k, v in (row.bounds or {}).items()},
                 max_uses=row.max_uses, uses=row.uses, granted_by=row.granted_by,
                 granted_at=row.granted_at, expires_at=row.expires_at,
                 revoked_by=row.revoked_by, revoked_at=row.revoked_at,
                 policy_version=row.policy_version, zone=row.zone,
                 on_behalf_of=row.on_behalf_of, delegation=row.delegation_id)


def create_grant(s: Session, row: TicketData, reviewer: str, spec: GrantSpec, now: datetime,
                 key: bytes | None, capacity: Capacity = IN_OWN_RIGHT) -> Grant | None:
    """Inside the approval's transaction (``row`` locked and just approved by ``reviewer``
    with ``capacity``, already confirmed under the lock): the grant, audited in the ticket's
    chain. Anything that makes it impossible rolls the approval back with it: the reviewer
    confirmed both or neither. A canary's approval makes no grant (it is a miss, told
    privately, and must not stand for real requests)."""
    why = _lent(capacity) or _refusal(row, spec)
    try:
        expires_at = grant_expiry(spec, now)
    except ValueError as exc:
        why = why or str(exc)
    if why is not None:
        raise GrantNotAllowed(row.id, why)
    if row.canary is not None:
        return None  # a test request: the approval is its miss, and it stands for nothing

    grant = GrantRow(
        id=new_grant_id(), ticket_id=row.id, action=row.action, agent=row.agent,
        requested_by=row.requested_by, route=str((row.route or {}).get("name", "default")),
        channel=row.card_channel, thread_ts=row.card_ts,
        bounds={k: b.model_dump(mode="json") for k, b in spec.bounds.items()},
        max_uses=spec.max_uses, uses=0, granted_by=reviewer, granted_at=now,
        expires_at=expires_at, policy_version=row.policy_version, zone=spec.zone,
        on_behalf_of=capacity.on_behalf_of,
        delegation_id=min(capacity.delegations) if capacity.on_behalf_of else None)
    s.add(grant)
    s.flush()
    out = to_grant(grant)
    lent = ({"on_behalf_of": out.on_behalf_of, "delegation": out.delegation}
            if out.on_behalf_of else {})
    audit.append(s, ticket_id=row.id, kind="grant_created", actor=reviewer, at=now, key=key,
                 data={"grant": out.id, "span": spec.span, "max_uses": spec.max_uses,
                       "expires_at": out.expires_at.isoformat(),
                       "bounds": {k: b.describe(k) for k, b in spec.bounds.items()},
                       **({"zone": spec.zone} if spec.zone else {}), **lent})
    return out


def _lent(capacity: Capacity) -> str | None:
    """Why authority held this way cannot stand for future requests (None: it can). A
    delegate's grant names the one delegation that lent it, and matches while it is active;
    a fallback approver's authority lasts only while every approver is away."""
    if capacity.on_behalf_of is None:
        return ("a fallback approver's authority does not extend to future requests"
                if capacity.delegations else None)
    if len(capacity.delegations) != 1:
        return "the delegation it would rely on is not clear"
    return None


def _refusal(row: TicketData, spec: GrantSpec) -> str | None:
    """Why the approval just applied to ``row`` cannot carry this grant (None: it can)."""
    route = row.route or {}
    why = ineligible(tier=row.tier, approvals_required=int(route.get("approvals_required", 1)),
                     review_type=row.review_type)
    if why is None and row.status != TicketStatus.APPROVED.value:
        why = "the approval did not complete the request"
    if why is None and row.final_args_hash != row.args_hash:
        why = "an edited request cannot become a grant (approve the edit first)"
    return why if why is not None else outside_bounds(spec.bounds, row.final_args)
