"""Canaries on the Slack side: posting their cards (for the sweep's injector) and settling
one right after a reviewer decides it, with a private word to that reviewer."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.agent.argmodel import masked_fields
from bot.render import render_card
from bot.render.quality import render_canary_caught, render_canary_missed
from bot.slack.webapi import post_card, slack_error
from store.canaries import CATCH, MISS
from store.ledger import Ledger
from store.models import DecisionKind, Ticket
from store.stats import CATCH_KINDS, MISS_KINDS

log = logging.getLogger(__name__)


class SlackCardPoster:
    """:class:`escalation.canaries.CardPoster` on the Web API: the same card as any request."""

    def __init__(self, slack: WebClient, ledger: Ledger) -> None:
        self.slack, self.ledger = slack, ledger

    def post_card(self, ticket: Ticket) -> Ticket:
        card = render_card(ticket, masked=masked_fields(ticket.args_schema))
        return post_card(self.slack, self.ledger, ticket, dict(card))


def settle_canary(slack: WebClient, ledger: Ledger, ticket: Ticket, user: str,
                  kind: DecisionKind, channel: str | None) -> Ticket:
    """After ``user``'s decision on a canary: record the catch or miss, close it, and tell
    ``user`` privately. A question settles nothing (the canary waits, then expires)."""
    if kind not in CATCH_KINDS | MISS_KINDS:
        return ticket
    caught = kind in CATCH_KINDS
    settled = ledger.settle_canary(ticket.id, reviewer=user, result=CATCH if caught else MISS)
    note = render_canary_caught(ticket) if caught else render_canary_missed(ticket)
    where = channel or (ticket.card.channel if ticket.card else None)
    if where is not None:
        try:
            slack.chat_postEphemeral(channel=where, user=user, text=note["text"],
                                     blocks=note["blocks"])
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("canary note for %s not delivered: %s", user, slack_error(exc))
    return settled
