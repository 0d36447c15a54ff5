"""Posting and refreshing batch cards (see :mod:`store.batches`).

A new pending request whose rule has ``batch:`` joins the open batch of similar requests, or
opens one and posts its card. The batch card is every member's card: reminders, escalation
notes and results go to its thread, and refreshing any member re-renders the batch card (never
a single request's card over it). Each render records the list it shows, which is what
"Approve all N" on that render binds.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render import render_card
from bot.render.batch import render_batch_card
from bot.slack.webapi import WebApi, slack_error
from escalation.batching import BatchConfig, plan_for
from store.batches import BATCH_ROLE, Batch, BatchStore, similarity_key
from store.errors import StoreError
from store.ledger import Ledger
from store.models import SlackRef, Ticket

log = logging.getLogger(__name__)


def on_batch_card(ticket: Ticket) -> bool:
    """Whether the ticket's card is its batch's card (not one of its own)."""
    card = ticket.card
    return card is not None and any(
        m.role == BATCH_ROLE and m.channel == card.channel and m.ts == card.ts
        for m in ticket.messages)


class BatchCards:
    def __init__(self, api: WebApi, ledger: Ledger) -> None:
        self.api, self.ledger = api, ledger
        self.store = BatchStore(ledger)

    def submit(self, ticket: Ticket, batch: BatchConfig | None) -> Ticket | None:
        """Show a new pending request on a batch card; None when it is to be shown alone
        (no ``batch:``, never batched, or no Slack), and the caller posts its own card."""
        plan = plan_for(ticket, batch)
        if plan is None or self.api.slack is None:
            return None
        try:
            batch_id, opened = self.store.join(ticket.id, plan.key, max_members=plan.max,
                                               window=plan.window, action=ticket.action)
        except StoreError as exc:  # shown alone rather than not at all
            log.warning("request %s not batched: %s", ticket.id, exc)
            return None
        if opened:
            self._open(batch_id, ticket)
        else:
            found = self.store.get(batch_id)
            if found.card is not None:  # else its opener links this ticket with the rest
                self.store.link_card(batch_id, found.card)
                self.refresh(batch_id)
        return self.ledger.get_ticket(ticket.id)

    def _open(self, batch_id: str, ticket: Ticket) -> None:
        batch = self.store.get(batch_id)
        try:
            resp = self.api.post(ticket.route.channel, self._message(batch),
                                 unfurl_links=False)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("batch card %s not delivered: %s", batch_id, slack_error(exc))
            self._alone(batch_id)
            return
        ref = SlackRef(role="card", channel=str(resp["channel"]), ts=str(resp["ts"]))
        self.store.link_card(batch_id, ref)
        if self.store.count_members(batch_id) != len(batch.tickets):
            self.refresh(batch_id)  # similar requests joined while the card was posted

    def _alone(self, batch_id: str) -> None:
        """The batch card could not be posted: take no more members, and give each one
        its own card (each records its delivery, or its failure, as a single card does)."""
        self.store.close(batch_id)
        for member in self.store.get(batch_id).tickets:
            if member.card is None:
                self.api.post_card(member, render_card(member))

    def _message(self, batch: Batch) -> dict[str, object]:
        digest = self.store.record_view(batch)
        msg = render_batch_card(batch.id, batch.tickets, batch.listed, digest)
        return dict(msg)

    def refresh(self, batch_id: str) -> bool:
        """Re-render the batch card as its members stand now (False: Slack did not take it;
        the sweep repairs stale members' cards later)."""
        batch = self.store.get(batch_id)
        if batch.card is None or not batch.tickets:
            return True
        return self.api.update(batch.tickets[0], batch.card, self._message(batch))

    def refresh_for(self, ticket: Ticket) -> bool:
        """Refresh the batch card that is ``ticket``'s card. A request still waiting that is
        no longer similar (an edit re-routed it in the same channel: now critical, or two
        approvals) leaves the list, and gets a card of its own so it stays visible."""
        batch_id = self.store.batch_of(ticket.id)
        if batch_id is None:
            return True
        batch = self.store.get(batch_id)
        if ticket.status.is_open and similarity_key(ticket) != batch.key:
            self.api.post_card(ticket, render_card(
                ticket, decisions=self.ledger.decisions(ticket.id)))
        return self.refresh(batch_id)
