"""Standing grants in the ledger: created with an approval, used by guarded UPDATEs,
revoked at once (see :mod:`store.grants` for what a grant is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import audit, delegation_check, tickets
from store.convert import to_ticket
from store.db import db_now, now_of
from store.errors import GrantNotFound
from store.grant_rows import to_grant
from store.grants import Grant, ineligible, outside_bounds, use_note
from store.ledger import Ledger
from store.models import DecisionKind, NewTicket, Ticket, TicketStatus
from store.states import Event
from store.tables import DecisionRow, DelegationRow, GrantRow, TicketRow
from store.tickets import Draft
from store.transition import transition

_GRANTS = cast(Table, GrantRow.__table__)
_CANDIDATES = (select(_GRANTS).where(
    _GRANTS.c.action == bindparam("action"), _GRANTS.c.requested_by == bindparam("by"),
    _GRANTS.c.revoked_at.is_(None), _GRANTS.c.expires_at > db_now(),
    _GRANTS.c.uses < _GRANTS.c.max_uses).order_by(_GRANTS.c.granted_at, _GRANTS.c.id))


class GrantStore:
    """Standing grants on one ledger. Thread-safe, like the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._tx = ledger.transactions

    def get(self, grant_id: str) -> Grant:
        with self._tx(write=False) as s:
            row = s.get(GrantRow, grant_id)
            if row is None:
                raise GrantNotFound(grant_id)
            return to_grant(row)

    def listed(self, *, granted_by: str | None = None, limit: int = 200) -> list[Grant]:
        """Grants (``granted_by`` one person's), newest first: active, expired, used up and
        revoked alike."""
        stmt = select(GrantRow).order_by(GrantRow.granted_at.desc(), GrantRow.id.desc())
        if granted_by is not None:
            stmt = stmt.where(GrantRow.granted_by == granted_by)
        with self._tx(write=False) as s:
            return [to_grant(r) for r in s.execute(stmt.limit(limit)).scalars()]

    def candidates(self, action: str, requested_by: str) -> list[Grant]:
        """Grants that may still cover a request for ``action`` by ``requested_by``, oldest
        first, judged by the database's clock: one prepared Core statement, as every
        reviewed request pays for it."""
        rows = self.ledger.read(lambda c: c.execute(
            _CANDIDATES, {"action": action, "by": requested_by}).all(), one_statement=True)
        return [to_grant(GrantRow(**row._mapping)) for row in rows]

    def in_force(self, grants: list[Grant], now: datetime) -> list[Grant]:
        """Those of ``grants`` that would cover a request at ``now``: active, and a delegate's
        only while the delegation that lent it lasts. For showing; a use checks again under
        the row lock (:func:`_still_lent`)."""
        live = [g for g in grants if g.active(now)]
        lent = {g.delegation for g in live if g.delegation is not None}
        delegations: dict[int | None, DelegationRow] = {}
        if lent:
            stmt = select(DelegationRow).where(DelegationRow.id.in_(sorted(lent)))
            with self._tx(write=False) as s:
                delegations = {d.id: d for d in s.execute(stmt).scalars()}
        return [g for g in live if _lent_at(g, delegations.get(g.delegation), now)]

    def for_ticket(self, ticket_id: str) -> list[Grant]:
        """The grants made on ``ticket_id``'s approval."""
        with self._tx(write=False) as s:
            rows = s.execute(select(GrantRow).where(GrantRow.ticket_id == ticket_id)
                             .order_by(GrantRow.granted_at))
            return [to_grant(r) for r in rows.scalars()]

    def revoke(self, grant_id: str, *, actor: str) -> Grant:
        """Stop the grant now (already stopped: returned as it is)."""
        with self._tx() as s:
            now = now_of(s)
            row = s.execute(select(GrantRow).where(GrantRow.id == grant_id)
                            .with_for_update()).scalar_one_or_none()
            if row is None:
                raise GrantNotFound(grant_id)
            if row.revoked_at is None:
                row.revoked_by, row.revoked_at = actor, now
                s.flush()
                audit.append(s, ticket_id=None, kind="grant_revoked", actor=actor, at=now,
                             key=self.ledger.audit_key,
                             data={"grant": grant_id, "uses": row.uses,
                                   "max_uses": row.max_uses})
            return to_grant(row)

    def approve_by_grant(self, grant_id: str, draft: Draft) -> tuple[Ticket, Grant] | None:
        """Open the request ``draft`` describes already approved by the grant, consuming one
        use, in one transaction; None (nothing written) when the grant does not cover it
        (any more): revoked, expired, used up, or the request is not similar, and when a
        request with the same idempotency key won meanwhile (the caller finds that one)."""
        try:
            return self._approve_by_grant(grant_id, draft)
        except IntegrityError:
            return None

    def _approve_by_grant(self, grant_id: str, draft: Draft) -> tuple[Ticket, Grant] | None:
        with self._tx() as s:
            now = now_of(s)
            new = tickets.resolve(draft, now)
            row = s.get(GrantRow, grant_id)
            if row is None or _mismatch(to_grant(row), new) is not None:
                return None
            if not _still_lent(s, to_grant(row), now):
                return None  # a delegate's grant, whose delegation has ended: fail closed
            used = s.execute(
                update(GrantRow).where(
                    GrantRow.id == grant_id, GrantRow.uses < GrantRow.max_uses,
                    GrantRow.revoked_at.is_(None), GrantRow.expires_at > db_now())
                .values(uses=GrantRow.uses + 1).returning(GrantRow.uses),
                execution_options={"synchronize_session": False}).scalar_one_or_none()
            if used is None:
                return None
            s.refresh(row)
            grant = to_grant(row)
            ticket = self._approved_ticket(s, new, grant, int(used), now)
            return ticket, grant

    def _approved_ticket(self, s: Session, new: NewTicket, grant: Grant, use: int,
                         now: datetime) -> Ticket:
        key = self.ledger.audit_key
        ticket = tickets.insert_ticket(s, new, now)
        audit.append(s, ticket_id=ticket.id, kind="created", actor=new.agent or new.requested_by,
                     at=now, key=key, new_ticket=True, data=tickets.created_data(new, ticket))
        note = use_note(grant, use)
        acting = {grant.granted_by: grant.on_behalf_of} if grant.on_behalf_of else None
        transition(s, ticket, Event.APPROVE, approvals=[grant.granted_by], acting_for=acting,
                   decided_by=grant.granted_by, decided_at=now, next_action_at=None)
        s.add(DecisionRow(ticket_id=ticket.id, reviewer=grant.granted_by,
                          kind=DecisionKind.APPROVE.value, reason=note, args=None,
                          args_hash=ticket.final_args_hash, at=now,
                          policy_version=new.policy_version, grant_id=grant.id,
                          on_behalf_of=grant.on_behalf_of))
        audit.append(s, ticket_id=ticket.id, kind="decided", actor=grant.granted_by, at=now,
                     key=key, data=_decided_data(ticket, grant, use, note))
        row = s.execute(select(TicketRow).where(TicketRow.id == ticket.id)).scalar_one()
        s.refresh(row)
        return to_ticket(row)


def _decided_data(ticket: Ticket, grant: Grant, use: int, note: str) -> dict[str, Any]:
    return {"decision": DecisionKind.APPROVE.value, "reason": note, "args": None,
            "args_hash": ticket.final_args_hash, "status": TicketStatus.APPROVED.value,
            "approvals": [grant.granted_by], "approvals_required": 1,
            "policy_version": ticket.policy_version, "grant": grant.id, "grant_use": use,
            "grant_max_uses": grant.max_uses, "granted_by": grant.granted_by,
            "granted_at": grant.granted_at.isoformat(), **_lent_data(grant)}


def _lent_data(grant: Grant) -> dict[str, Any]:
    """A delegate's grant: the audit names the principal, as for a delegate's decision."""
    if grant.on_behalf_of is None:
        return {}
    return {"on_behalf_of": grant.on_behalf_of,
            "acting_for": {grant.granted_by: grant.on_behalf_of},
            "identities": sorted({grant.granted_by, grant.on_behalf_of}),
            "delegations": [grant.delegation]}


def _still_lent(s: Session, grant: Grant, now: datetime) -> bool:
    """A grant made in one's own right, or a delegate's whose delegation (from the same
    principal to the granter) is active at ``now``, share-locked so a revocation cannot
    commit under this use."""
    if grant.on_behalf_of is None and grant.delegation is None:
        return True
    if grant.on_behalf_of is None or grant.delegation is None:
        return False  # half a delegation: never matches
    found = delegation_check.links(s.connection(), [grant.delegation], grant.granted_by)
    return _lent_at(grant, next((d for d in found if d.id == grant.delegation), None), now)


def _lent_at(grant: Grant, d: Any, now: datetime) -> bool:
    """Whether ``d`` (the grant's delegation row, locked or not; None when missing) lends
    the grant its principal's authority at ``now``; a grant in one's own right needs none."""
    if grant.on_behalf_of is None and grant.delegation is None:
        return True
    return (d is not None and d.principal == grant.on_behalf_of
            and d.delegate == grant.granted_by and delegation_check.active(d, now))


def _mismatch(grant: Grant, new: NewTicket) -> str | None:
    """Why ``grant`` does not cover ``new`` (checked again here, whatever the caller did)."""
    if (grant.action, grant.agent, grant.requested_by, grant.route) != (
            new.action, new.agent, new.requested_by, new.route.name):
        return "another action, agent, requester or route"
    if new.requested_by in (grant.granted_by, grant.authority):
        return "a grant never approves its granter's own request (nor its principal's)"
    if new.status != TicketStatus.PENDING:
        return "only a request for review can be approved by a grant"
    why = ineligible(tier=new.tier.value, approvals_required=new.route.approvals_required,
                     review_type=new.review_type.value)
    return why or outside_bounds(grant.bounds, new.args)
