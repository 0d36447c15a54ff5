"""Turning a reviewer's decision into a state-machine event and column updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store.errors import DuplicateApproval
from store.models import DecisionKind, RiskTier, Route, args_hash
from store.states import Event
from store.tables import TicketData

_SIMPLE = {
    DecisionKind.REJECT: (Event.REJECT, "decided", True),
    DecisionKind.REQUEST_INFO: (Event.REQUEST_INFO, "info_requested", False),
    DecisionKind.TAKE_OVER: (Event.TAKE_OVER, "decided", True),
}


@dataclass(frozen=True)
class Replan:
    """The new route's escalation, planned from the moment of the edit."""

    expires_at: datetime
    next_action_at: datetime | None
    snapshot: dict[str, Any] | None


@dataclass(frozen=True)
class Reroute:
    """Policy's verdict on edited arguments: where they must be reviewed now."""

    route: Route
    tier: RiskTier
    policy_rule: str
    counts: bool
    """Whether the editing reviewer may approve under the new route."""
    on_behalf_of: str | None = None
    """Whose authority (a delegation) the editor's approval counts with under the new route."""
    delegations: frozenset[int] = frozenset()
    """The delegations that authority relies on (see :attr:`Capacity.delegations`)."""
    replan: Replan | None = None
    """The new route's chain. Either way the old chain stops: its steps end, and the
    people it DM'd lose the authority their DM gave them (the escalation epoch moves on)."""


@dataclass(frozen=True)
class DecisionUpdate:
    event: Event
    audit_kind: str
    final: bool
    """True when this decision settles the ticket (sets decided_by / decided_at)."""
    values: dict[str, Any] = field(default_factory=dict)
    decision_args: dict[str, Any] | None = None
    decision_hash: str | None = None


@dataclass(frozen=True)
class Capacity:
    """Whose authority a decision is made with. A delegate acts ``on_behalf_of`` a principal;
    ``identities`` are everyone the click stands for (the reviewer, the principal, and whoever
    an active delegation links them to): one person for counting distinct approvers.

    ``delegations`` are the ids of every delegation the authority relies on (the one that
    lends ``on_behalf_of``'s authority; those that put a route's approvers away when a
    fallback approver decides). The ledger checks them again under the ticket's row lock, by
    the database's clock, and records nothing when one has ended since the click was
    authorised (:class:`store.errors.DelegationEnded`)."""

    on_behalf_of: str | None = None
    identities: frozenset[str] = frozenset()
    delegations: frozenset[int] = frozenset()


IN_OWN_RIGHT = Capacity()


def decision_update(row: TicketData, reviewer: str, kind: DecisionKind,
                    args: dict[str, Any] | None, reroute: Reroute | None = None,
                    capacity: Capacity | None = None) -> DecisionUpdate:
    """What a decision would do to ``row``; raises for a second approval by one person
    (or by someone a delegation makes one with an approver already counted)."""
    capacity = capacity or IN_OWN_RIGHT
    if kind in _SIMPLE:
        event, audit_kind, final = _SIMPLE[kind]
        return DecisionUpdate(event, audit_kind, final)
    required = int(row.route.get("approvals_required", 1))
    if kind == DecisionKind.EDIT and args is not None:
        digest = args_hash(args)
        if digest != row.final_args_hash:
            return _edit(row, args, digest, reviewer, required, reroute, capacity)
    # A plain approval, or an "edit" that changed nothing, approves final_args.
    acting = dict(row.acting_for or {})
    counted = set(row.approvals) | set(acting.values())
    same = sorted(counted & ({reviewer} | capacity.identities))
    if same:
        raise DuplicateApproval(row.id, kind.value, row.status, counted_with=same[0], detail=(
            f"{_counted_as(reviewer, same[0], row.approvals, acting)}; {required} distinct "
            "approvers are needed"))
    approvals = [*row.approvals, reviewer]
    values: dict[str, Any] = {"approvals": approvals}
    if capacity.on_behalf_of is not None:
        values["acting_for"] = {**acting, reviewer: capacity.on_behalf_of}
    done = len(approvals) >= required
    return DecisionUpdate(
        Event.APPROVE if done else Event.APPROVE_PARTIAL, "decided", done,
        values=values, decision_hash=row.final_args_hash,
    )


def _counted_as(reviewer: str, other: str, approvals: list[str],
                acting: dict[str, str]) -> str:
    """Why ``reviewer`` would count twice, in words."""
    if reviewer in approvals:
        return f"{reviewer} already approved"
    if reviewer in acting.values():
        by = next(a for a, p in acting.items() if p == reviewer)
        return f"{by} already approved on behalf of {reviewer}"
    return f"{reviewer} is one person with {other} through a delegation, and {other} already " \
           "counts"


def _edit(row: TicketData, args: dict[str, Any], digest: str, reviewer: str, required: int,
          reroute: Reroute | None, capacity: Capacity) -> DecisionUpdate:
    # Changed arguments void earlier approvals: they approved something else.
    values: dict[str, Any] = {"final_args": args, "final_args_hash": digest}
    counts = True
    if reroute is not None:
        required, counts = reroute.route.approvals_required, reroute.counts
        values.update(route=reroute.route.model_dump(mode="json"), tier=reroute.tier.value,
                      policy_rule=reroute.policy_rule, **_restart(row, reroute.replan))
    values["approvals"] = [reviewer] if counts else []
    principal = reroute.on_behalf_of if reroute is not None else capacity.on_behalf_of
    values["acting_for"] = {reviewer: principal} if counts and principal is not None else None
    done = counts and required <= 1
    return DecisionUpdate(Event.EDIT if done else Event.EDIT_PARTIAL, "edited", done,
                        values=values, decision_args=args, decision_hash=digest)


def _restart(row: TicketData, replan: Replan | None) -> dict[str, Any]:
    """Columns that start the new route's chain (or stop the old one, without a chain)."""
    values: dict[str, Any] = {"escalation_epoch": (row.escalation_epoch or 0) + 1,
                              "escalation_loop": 0, "escalation_level": 0}
    if replan is None:
        values.update(next_action_at=None, escalation=None)
    else:
        values.update(expires_at=replan.expires_at, next_action_at=replan.next_action_at,
                      escalation=replan.snapshot)
    return values
