"""Delegation and fallback approvers at click time: whose authority a click decides with.

Checked fresh for every decision, like user-group membership: a delegation that ended or was
revoked a second ago lends nothing. The rules:

- someone who may decide in their own right decides as themselves;
- otherwise a delegate decides *on behalf of* a principal who may decide in their own right
  (never through another delegation: authority held by delegation is not passed on), while
  the principal's Slack account is active;
- otherwise a route's ``fallback_approvers`` decide when every approver of the route is
  delegated away or deactivated (Slack ``users.info`` says ``deleted``);
- while a delegation links two people they are **one person**: neither approves a request
  made by the other (or by themselves), and one of them cannot be the second approver after
  the other (``identities``, checked again by the ledger under the ticket's row lock).

The capacity names the delegations it relies on; the ledger checks again, under the ticket's
row lock, that they are still active when the decision is recorded, so a revocation between
this check and the write leaves nothing recorded (the clicker is told why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render.delegation import own_request_through, same_person_twice
from bot.render.refusals import OWN_REQUEST, not_an_approver, rate_limited
from bot.slack.authz import GROUP_CACHE_S, Authorizer, GroupsBusy
from bot.slack.ttl_cache import TtlCache
from escalation.config import SignoffConfig
from store.decisions import Capacity
from store.delegations import Delegation, DelegationStore
from store.models import DecisionKind, Ticket, is_user_group

_APPROVING = (DecisionKind.APPROVE, DecisionKind.EDIT)
#: How old the delegations App Home lists requests by may be (decisions read them fresh).
LINKS_CACHE_S = 5.0


def identities(user: str, links: Iterable[Delegation]) -> frozenset[str]:
    """``user`` and everyone an active delegation makes one person with them."""
    out = {user}
    for d in links:
        if d.delegate == user:
            out.add(d.principal)
        if d.principal == user:
            out.add(d.delegate)
    return frozenset(out)


class DelegatingAuthorizer(Authorizer):
    def __init__(self, slack: WebClient, book: DelegationStore, *,
                 oncall: Callable[[str], set[str]] | None = None,
                 config: Callable[[], SignoffConfig] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(slack, oncall=oncall, config=config)
        self._book, self._now, self._current = book, now, config
        self._deactivated: TtlCache[bool] = TtlCache(GROUP_CACHE_S)
        self._link_cache: TtlCache[list[Delegation]] = TtlCache(LINKS_CACHE_S)

    def refusal(self, user: str, ticket: Ticket, kind: DecisionKind, *,
                oncall: bool = True, fresh: bool = True) -> str | None:
        found = self.standing(user, ticket, kind, oncall=oncall, fresh=fresh)
        return found if isinstance(found, str) else None

    def standing(self, user: str, ticket: Ticket, kind: DecisionKind, *,
                 oncall: bool = True, fresh: bool = True) -> Capacity | str:
        at = self._now()  # read once: every delegation is judged at this instant
        links = self._links(user, at, fresh)
        same = identities(user, links)
        if kind in _APPROVING and ticket.requested_by in same:
            return OWN_REQUEST if ticket.requested_by == user else own_request_through(
                ticket.requested_by)
        if kind in _APPROVING:
            twice = sorted((same - {user}) & _counted(ticket))
            if twice:
                return same_person_twice(twice[0])
        try:
            allowed = self.approvers(ticket, oncall=oncall, fresh=fresh)
            if user in allowed:
                return Capacity(identities=same)
            for d in sorted(links, key=lambda d: d.id):
                # A deactivated account lends nothing (its fallback approvers take over).
                if d.delegate == user and d.principal in allowed and not self.deactivated(
                        d.principal, fresh=fresh):
                    return Capacity(on_behalf_of=d.principal, identities=same,
                                    delegations=frozenset({d.id}))
            away = self._fallback(user, ticket, at, fresh=fresh)
            if away is not None:  # the ledger re-checks the delegations that put them away
                return Capacity(identities=same, delegations=away)
        except GroupsBusy as busy:
            return rate_limited(busy.wait)
        return not_an_approver(ticket.route)

    def _links(self, user: str, at: datetime, fresh: bool) -> list[Delegation]:
        """Active delegations given or held by ``user``: read fresh for a decision; for
        display (App Home lists many requests) from a cache a few seconds old."""
        now = self._link_cache.clock()
        hit = None if fresh else self._link_cache.get(user, now)
        if hit is not None:
            return hit
        links = self._book.active_for({user}, at)
        self._link_cache.put(user, links, now)
        return links

    # -- fallback approvers -----------------------------------------------------------------

    def fallback_users(self, ticket: Ticket, *, fresh: bool = True) -> frozenset[str]:
        """The route's fallback approvers, by the ticket's snapshot and the configuration in
        force now (both must name them)."""
        users = self._expand(ticket.route.fallback, fresh)
        if self._current is not None:
            route = self._current().routes.get(ticket.route.name)
            group = route.fallback_approvers if route is not None else None
            now = self._current().reviewers.get(group, ()) if group else ()
            users &= self._expand(now, fresh)
        return frozenset(users)

    def all_away(self, ticket: Ticket, at: datetime, *, fresh: bool = True) -> bool:
        """Is every approver of the route delegated away or deactivated? False when the
        approvers cannot be read (an unreadable group leaves the fallback closed)."""
        return self.away_by(ticket, at, fresh=fresh) is not None

    def away_by(self, ticket: Ticket, at: datetime, *,
                fresh: bool = True) -> frozenset[int] | None:
        """The delegations that put the route's approvers away when every one of them is
        away (delegated or deactivated); None when someone is present or unreadable."""
        approvers = self.approvers(ticket, oncall=False, fresh=fresh)
        if not approvers:
            return None
        given = {d.principal: d.id for d in self._book.active_for(approvers, at)
                 if d.principal in approvers}
        if not all(a in given or self.deactivated(a, fresh=fresh) for a in approvers):
            return None
        return frozenset(given.values())

    def _fallback(self, user: str, ticket: Ticket, at: datetime, *,
                  fresh: bool) -> frozenset[int] | None:
        if user not in self.fallback_users(ticket, fresh=fresh):
            return None
        return self.away_by(ticket, at, fresh=fresh)

    def deactivated(self, user: str, *, fresh: bool = True) -> bool:
        """Slack's ``users.info`` says ``deleted: true``. A lookup that fails counts as
        active: the fallback opens only on evidence."""
        now = self._deactivated.clock()
        hit = None if fresh else self._deactivated.get(user, now)
        if hit is not None:
            return hit
        try:
            info = self._slack.users_info(user=user).get("user") or {}
            gone = bool(info.get("deleted"))
        except (SlackApiError, SlackClientError, OSError):
            return False
        self._deactivated.put(user, gone, now)
        return gone

    def _expand(self, principals: Iterable[str], fresh: bool) -> set[str]:
        users: set[str] = set()
        for p in principals:
            users |= set(self.members(p, fresh=fresh)) if is_user_group(p) else {p}
        return users


def _counted(ticket: Ticket) -> set[str]:
    """Everyone whose approval counts already: the approvers and whoever they acted for."""
    return set(ticket.approvals) | set(ticket.acting_for.values())
