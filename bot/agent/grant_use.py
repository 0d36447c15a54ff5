"""Standing grants at request time: a request policy sends for review is approved by a
grant that covers it, without a card, and a compact line goes to the grant's thread.

A grant is re-authorised at every use: its granter must still be an approver of the route
policy sends this request to now (a user-group membership is read from Slack; a group that
cannot be read authorises nobody). A grant made by a delegate carries its principal's
authority: the principal must still be an approver (and an active account), and the ledger
uses the grant only while the delegation that lent it is active. Policy is asked first, so a
deny always wins, and a rule marked ``grants: never`` stops its grants at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient

from bot.agent.backend import ApprovalRequest
from bot.render.grant import render_grant_use
from bot.slack.authz import GroupsBusy
from bot.slack.delegation import DelegatingAuthorizer
from bot.slack.webapi import WebApi
from escalation.config import SignoffConfig
from escalation.grants import grant_refusal
from escalation.policy import PolicyOutcome
from store.delegations import DelegationStore
from store.grant_store import GrantStore
from store.grants import Grant, outside_bounds, use_note
from store.ledger import Ledger
from store.models import NewTicket, Route, SlackRef, Ticket, is_user_group

log = logging.getLogger(__name__)


class GrantUse:
    def __init__(self, ledger: Ledger, config: SignoffConfig, slack: WebClient | None) -> None:
        self.ledger, self.config, self.slack = ledger, config, slack
        self.store = GrantStore(ledger)
        self.api = WebApi(slack, ledger)
        self._authz = (DelegatingAuthorizer(slack, DelegationStore(ledger))
                       if slack is not None else None)

    def approve(self, request: ApprovalRequest, outcome: PolicyOutcome,
                draft: Callable[[datetime], NewTicket]) -> Ticket | None:
        """The request, approved by the first grant that covers it (one use consumed), or
        None: no grant covers it, and it goes to review as usual."""
        if grant_refusal(self.config, outcome) is not None or outcome.route is None:
            return None
        if request.idempotency_key is not None and self.ledger.find_by_idempotency_key(
                request.requested_by, request.idempotency_key) is not None:
            return None  # the same request again: its ticket answers, nothing is used
        for grant in self.store.candidates(request.action, request.requested_by):
            if not self._covers(grant, request, outcome.route):
                continue
            done = self.store.approve_by_grant(grant.id, draft)
            if done is not None:
                ticket, used = done
                self._post(ticket, used)
                return ticket
        return None

    def _covers(self, grant: Grant, request: ApprovalRequest, route: Route) -> bool:
        # A delegate's grant carries its principal's authority: the principal must still be
        # an approver (and an active account); the ledger checks the delegation itself.
        return (grant.agent == request.agent and grant.route == route.name
                and request.requested_by not in (grant.granted_by, grant.authority)
                and outside_bounds(grant.bounds, request.args) is None
                and self._authorised(grant.authority, route)
                and (grant.on_behalf_of is None or self._account_active(grant.on_behalf_of)))

    def _account_active(self, user: str) -> bool:
        """A deactivated principal lends nothing (as at click time); without Slack, no
        delegate's grant matches."""
        return self._authz is not None and not self._authz.deactivated(user)

    def _authorised(self, user: str, route: Route) -> bool:
        """Is ``user`` an approver of ``route`` as configured now (group members read fresh)?"""
        for principal in route.approvers:
            if principal == user:
                return True
            if is_user_group(principal) and self._authz is not None:
                try:
                    if user in self._authz.members(principal, fresh=True):
                        return True
                except GroupsBusy:
                    return False  # cannot tell now: the request goes to review
        return False

    def _post(self, ticket: Ticket, grant: Grant) -> None:
        """The compact line in the grant's thread, recorded on the ticket (best effort: the
        ledger already holds the approval and its audit)."""
        # In the thread of the card it was granted on; in the route's channel when that card
        # never reached Slack. The grant as read in the using transaction counts this use.
        where = ({"channel": grant.channel, "thread_ts": grant.thread_ts} if grant.channel
                 else {"channel": ticket.route.channel})
        message = render_grant_use(ticket, grant.id, use_note(grant, grant.uses))
        resp = self.api.best_effort("chat_postMessage", ticket, text=message["text"],
                                    blocks=message["blocks"], unfurl_links=False, **where)
        if resp is not None:
            self.ledger.record_message(ticket.id, SlackRef(
                role="grant_use", channel=str(resp["channel"]), ts=str(resp["ts"])))
