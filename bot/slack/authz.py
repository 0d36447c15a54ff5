"""Who may decide a ticket: the route's approvers (users or user-group members) and the
on-call engineers it was escalated to; never the person the agent acts for, for approvals.

Authority is checked twice at click time, and both must allow: against the ticket's own
snapshot (the route and chain it was opened or moved under) and against the configuration
the service runs now, so removing someone from ``signoff.yml`` takes effect on requests
opened before. User-group membership is read fresh for a decision; the short cache serves
display only (App Home), and Slack's ``subteam_members_changed`` event clears it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render.refusals import OWN_REQUEST, not_an_approver, rate_limited
from bot.slack.authority import CurrentAuthority
from bot.slack.retry import retry_after
from bot.slack.ttl_cache import TtlCache
from escalation.config import SignoffConfig
from store.decisions import Capacity
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
                 config: Callable[[], SignoffConfig] | None = None,
                 ttl: float = GROUP_CACHE_S, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._slack = slack
        # Who the escalation chain DM'd about a ticket (recorded before the DMs went out).
        self._oncall = oncall or (lambda _ticket_id: set())
        # The configuration in force now (None: only the ticket's snapshot is consulted).
        self._config = config
        self._groups: TtlCache[frozenset[str]] = TtlCache(ttl, clock)

    def forget(self, group_id: str | None = None) -> None:
        """Drop cached members of ``group_id`` (all groups when None): they changed."""
        self._groups.forget(group_id)

    def members(self, group_id: str, *, fresh: bool = True) -> frozenset[str]:
        """Members of a Slack user group: read from Slack for a decision (``fresh``), from a
        short cache for display."""
        now = self._groups.clock()
        hit = None if fresh else self._groups.get(group_id, now)
        if hit is not None:
            return hit
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
        self._groups.put(group_id, users, now)
        return users

    def approvers(self, ticket: Ticket, *, oncall: bool = True,
                  fresh: bool = True) -> frozenset[str]:
        """Who the ticket's snapshot lets decide: its route's approvers and (``oncall``) the
        people its current chain DM'd, each only if the current configuration agrees."""
        groups: dict[str, frozenset[str]] = {}  # each group read once per check

        def expand(principals: Iterable[str]) -> set[str]:
            users: set[str] = set()
            for p in principals:
                if not is_user_group(p):
                    users.add(p)
                    continue
                if p not in groups:
                    groups[p] = self.members(p, fresh=fresh)
                users |= groups[p]
            return users

        users = expand(ticket.route.approvers)
        # Only the current chain's DMs give authority (an edit that re-routed the ticket
        # took it from the old chain's people), so DM messages themselves are not consulted.
        dmd = expand(self._oncall(ticket.id)) if oncall else set()
        if self._config is not None:
            now = CurrentAuthority(self._config(), ticket)
            users &= expand(now.approvers())
            dmd &= expand(now.oncall())
        return frozenset(users | dmd)

    def standing(self, user: str, ticket: Ticket, kind: DecisionKind, *,
                 oncall: bool = True, fresh: bool = True) -> Capacity | str:
        """Whose authority ``user`` decides with (here: always their own), or the refusal.
        :class:`bot.slack.delegation.DelegatingAuthorizer` adds delegations and fallbacks."""
        refusal = self.refusal(user, ticket, kind, oncall=oncall, fresh=fresh)
        return refusal if refusal is not None else Capacity(identities=frozenset({user}))

    def refusal(self, user: str, ticket: Ticket, kind: DecisionKind, *,
                oncall: bool = True, fresh: bool = True) -> str | None:
        """None when ``user`` may make this decision, else the explanation to show them.
        ``oncall=False`` leaves the on-call people out (a route the ticket is not on yet);
        ``fresh=False`` may use cached group members (for display, never for a decision)."""
        if user == ticket.requested_by and kind in _APPROVING:
            return OWN_REQUEST
        try:
            if user in self.approvers(ticket, oncall=oncall, fresh=fresh):
                return None
        except GroupsBusy as busy:
            return rate_limited(busy.wait)
        return not_an_approver(ticket.route)
