"""Who may make, and who may revoke, a standing grant; and how grants are shown.

Making one takes more than approving: the reviewer must be an approver of the route itself
(authority from an on-call DM does not extend to future requests), policy must still send
these arguments to the same route, and the rule must allow grants (``grants: never``,
critical tiers, two-person rules and non-approval reviews never do). A delegate's grant carries
the principal's authority while the delegation lasts; a fallback approver's authority, which
lasts only while every approver is away, makes none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.render.blocks import Block
from bot.render.grant import (
    NO_FALLBACK_GRANT,
    GrantView,
    bound_text,
    render_grant_created,
    render_grant_home,
    render_grant_revoked,
)
from bot.slack.authz import Authorizer, GroupsBusy
from bot.slack.surfaces import Surfaces
from bot.slack.webapi import WebApi
from escalation.config import SignoffConfig
from escalation.grants import grant_refusal
from escalation.policy import Policy, Proposal, recorded_annotations
from store.grant_store import GrantStore
from store.grants import Bound, Grant
from store.models import DecisionKind, Ticket, is_user_group

if TYPE_CHECKING:  # reviews.py imports this module
    from bot.slack.reviews import Reviews


def refusal_to_grant(config: SignoffConfig, authz: Authorizer, user: str,
                     ticket: Ticket) -> str | None:
    """None when ``user`` may approve ``ticket`` and grant similar requests, else why not."""
    outcome = Policy(config).evaluate(Proposal(
        action=ticket.action, args=ticket.final_args, requested_by=ticket.requested_by,
        confidence=ticket.confidence, annotations=recorded_annotations(ticket.args_schema)))
    why = grant_refusal(config, outcome)
    if why is not None:
        return f"No standing grant here: {why}."
    if outcome.route is None or outcome.route.name != ticket.route.name:
        return "No standing grant here: policy now sends this request to another route."
    standing = authz.standing(user, ticket, DecisionKind.APPROVE, oncall=False)
    if isinstance(standing, str):
        return f"No standing grant: only the route's own approvers can make one. {standing}"
    if standing.on_behalf_of is None and standing.delegations:
        return NO_FALLBACK_GRANT
    return None


def may_revoke(config: SignoffConfig, authz: Authorizer, user: str, grant: Grant) -> bool:
    """The granter, or anyone who approves for the grant's route now."""
    if user == grant.granted_by:
        return True
    route = config.routes.get(grant.route)
    if route is None:
        return False
    try:
        return any(p == user or (is_user_group(p) and user in authz.members(p, fresh=True))
                   for p in config.group(route.approvers))
    except GroupsBusy:
        return False


def bound_lines(ticket: Ticket, bounds: dict[str, Bound]) -> list[str]:
    out = []
    for name, b in bounds.items():
        if b.max is not None:
            out.append(bound_text(ticket, name, "max", f"{b.max:g}"))
        elif b.domain is not None:
            out.append(bound_text(ticket, name, "domain", b.domain))
        else:
            out.append(bound_text(ticket, name, "equals", b.equals))
    return out


def grant_views(grants: Sequence[Grant], tickets: dict[str, Ticket],
                now: datetime) -> list[GrantView]:
    """Grants as App Home shows them (bounds described against their source ticket)."""
    views = []
    for g in grants:
        source = tickets.get(g.ticket_id)
        lines = (bound_lines(source, g.bounds) if source is not None
                 else [b.describe(k) for k, b in g.bounds.items()])
        views.append(GrantView(id=g.id, action=g.action, requested_by=g.requested_by,
                               granted_by=g.granted_by, expires_at=g.expires_at, uses=g.uses,
                               max_uses=g.max_uses, state=g.state(now), bounds=tuple(lines)))
    return views


def announce_grants(surfaces: Surfaces, ticket: Ticket) -> None:
    """Say in the card's thread which grants the approval of ``ticket`` made."""
    for g in GrantStore(surfaces.ledger).for_ticket(ticket.id):
        surfaces.reply(ticket, render_grant_created(
            ticket, g.id, g.granted_by, g.expires_at, g.max_uses,
            bound_lines(ticket, g.bounds), zone=g.zone, on_behalf_of=g.on_behalf_of))


def home_grants(reviews: Reviews, user: str) -> list[Block]:
    """App Home's "Your standing grants" for ``user``."""
    store = GrantStore(reviews.ledger)
    mine = store.listed(granted_by=user, limit=50)
    if not mine:
        return []
    now = reviews.ledger.db_now()
    # A delegate's grant lapses with the delegation that lent it: not shown as active after.
    live = store.in_force(mine, now)
    sources = {}
    for g in live:
        if g.ticket_id not in sources:
            sources[g.ticket_id] = reviews.ledger.get_ticket(g.ticket_id)
    return render_grant_home(grant_views(live, sources, now))


def announce_revoked(api: WebApi, grant: Grant) -> None:
    """Say in the grant's thread that it stopped (best effort: the ledger has it)."""
    if grant.channel is None or grant.revoked_by is None:
        return
    note = render_grant_revoked(grant.id, grant.revoked_by, grant.uses, grant.max_uses)
    api.best_effort("chat_postMessage", None, channel=grant.channel,
                    thread_ts=grant.thread_ts, text=note["text"], blocks=note["blocks"])
