"""Out of office: DMs go to whoever holds the authority now.

- An on-call DM for someone who delegated their reviews goes to their delegate instead (with
  a line saying for whom); the step still names the person the chain named, whose authority
  the delegate then uses, so the decision records both.
- When every approver of a route is delegated away or deactivated, the route's
  ``fallback_approvers`` get the interactive card by DM: when the card is posted, and again
  at each reminder or escalation of the request while that holds (each of them once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render import Message
from bot.render.delegation import FALLBACK_DM_NOTE, delegated_dm_note
from bot.render.thread import render_fallback_dm
from bot.slack.delegation import DelegatingAuthorizer
from bot.slack.webapi import WebApi, slack_error
from escalation.config import SignoffConfig
from store.delegations import DelegationStore
from store.ledger import Ledger
from store.models import SlackRef, Ticket

log = logging.getLogger(__name__)
FALLBACK_ROLE = "fallback"


class OutOfOffice:
    def __init__(self, slack: WebClient, ledger: Ledger,
                 config: Callable[[], SignoffConfig] | None = None) -> None:
        self.slack, self.ledger = slack, ledger
        self.book = DelegationStore(ledger)
        self.authz = DelegatingAuthorizer(slack, self.book, config=config)
        self.api = WebApi(slack, ledger)

    def recipient(self, target: str, at: datetime) -> tuple[str, str | None]:
        """Who receives ``target``'s DM at ``at``, and the note to put above it."""
        for d in self.book.active_for({target}, at):
            if d.principal == target:
                return d.delegate, delegated_dm_note(target, d.ends_at)
        return target, None

    def fallback(self, ticket: Ticket, at: datetime | None = None) -> list[str]:
        """DM the card to the route's fallback approvers when every approver is away; the
        people DM'd now. Best effort: the request's card and chain go on regardless."""
        at = at or datetime.now(UTC)
        if not ticket.route.fallback or not ticket.status.is_open:
            return []
        try:
            if not self.authz.all_away(ticket, at):
                return []
            ticket = self.ledger.get_ticket(ticket.id)  # with every message sent so far
            already = {m.user for m in ticket.messages if m.role == FALLBACK_ROLE}
            wanted = sorted(self.authz.fallback_users(ticket) - already
                            - {ticket.requested_by})
        except Exception:
            log.exception("fallback approvers of ticket %s not worked out", ticket.id)
            return []
        return [u for u in wanted if self._dm(ticket, u, render_fallback_dm(
            ticket, FALLBACK_DM_NOTE, decisions=self.ledger.decisions(ticket.id)))]

    def _dm(self, ticket: Ticket, user: str, message: Message) -> bool:
        try:
            channel = str(self.slack.conversations_open(users=user)["channel"]["id"])
            ts = str(self.api.post(channel, message)["ts"])
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("fallback DM to %s for %s failed: %s", user, ticket.id,
                        slack_error(exc))
            self.ledger.record_event(ticket.id, "delivery_failed", role=FALLBACK_ROLE,
                                     target=user, error=slack_error(exc))
            return False
        self.ledger.record_message(ticket.id, SlackRef(role=FALLBACK_ROLE, channel=channel,
                                                       ts=ts, user=user,
                                                       epoch=ticket.escalation_epoch),
                                   audit_kind="fallback_notified")
        return True
