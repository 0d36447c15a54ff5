"""Who may decide a ticket: the route's approvers (users or user-group members) and the
on-call engineers it was escalated to; never the person the agent acts for, for approvals."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render.refusals import OWN_REQUEST, not_an_approver, rate_limited
from bot.slack.retry import retry_after
from store.models import DecisionKind, Ticket, is_user_group

GROUP_CACHE_S = 60.0


class GroupsBusy(Exception):
    """Slack answered a user-group lookup with 429: ask again after ``wait`` seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited for {wait} s")
        self.wait = wait

_APPROVING = (DecisionKind.APPROVE, DecisionKind.EDIT)


class Authorizer:
    def __init__(self, slack: WebClient, *, oncall: Callable[[str], set[str]] | None = None,
                 ttl: float = GROUP_CACHE_S, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._slack, self._ttl, self._clock = slack, ttl, clock
        # Who the escalation chain DM'd about a ticket (recorded before the DMs went out).
        self._oncall = oncall or (lambda _ticket_id: set())
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, group_id: str) -> frozenset[str]:
        """Members of a Slack user group, cached briefly (membership changes are rare)."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(group_id)
            if hit and now - hit[0] < self._ttl:
                return hit[1]
        try:
            resp = self._slack.usergroups_users_list(usergroup=group_id)
            listed: list[str] = resp.get("users", []) or []
            users = frozenset(str(u) for u in listed)
        except (SlackApiError, SlackClientError, OSError) as exc:
            wait = retry_after(exc)
            if wait is not None:  # rate limited: say so, rather than sleep in a click's thread
                raise GroupsBusy(wait) from exc
            # Fail closed: an unreadable group authorises nobody (and is not cached).
            return frozenset()
        with self._lock:
            self._cache[group_id] = (now, users)
        return users

    def approvers(self, ticket: Ticket, *, oncall: bool = True) -> frozenset[str]:
        """The route's approvers, and (``oncall``) the people its current chain DM'd."""
        users: set[str] = set()
        for principal in ticket.route.approvers:
            if is_user_group(principal):
                users |= self.members(principal)
            else:
                users.add(principal)
        # Only the current chain's DMs give authority (an edit that re-routed the ticket
        # took it from the old chain's people), so DM messages themselves are not consulted.
        for target in self._oncall(ticket.id) if oncall else ():
            users |= self.members(target) if is_user_group(target) else {target}
        return frozenset(users)

    def refusal(self, user: str, ticket: Ticket, kind: DecisionKind, *,
                oncall: bool = True) -> str | None:
        """None when ``user`` may make this decision, else the explanation to show them.
        ``oncall=False`` leaves the on-call people out (a route the ticket is not on yet)."""
        if user == ticket.requested_by and kind in _APPROVING:
            return OWN_REQUEST
        try:
            if user in self.approvers(ticket, oncall=oncall):
                return None
        except GroupsBusy as busy:
            return rate_limited(busy.wait)
        return not_an_approver(ticket.route)
