"""App Home: the reviewer's own queue, oldest deadline first, refreshed when opened."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render import render_home
from bot.slack.reviews import Reviews
from bot.slack.webapi import slack_error
from store.models import DecisionKind, Ticket, TicketStatus

log = logging.getLogger(__name__)
SCAN_LIMIT = 500
LINK_LIMIT = 25  # one chat.getPermalink per listed ticket; the page shows few anyway


def publish_home(reviews: Reviews, user: str) -> None:
    open_tickets = reviews.ledger.list_tickets([TicketStatus.PENDING, TicketStatus.NEEDS_INFO],
                                               limit=SCAN_LIMIT)
    mine = [t for t in open_tickets
            if reviews.authz.refusal(user, t, DecisionKind.APPROVE, fresh=False) is None]
    mine.sort(key=lambda t: t.expires_at)
    listed = [(t, _permalink(reviews, t) if i < LINK_LIMIT else None)
              for i, t in enumerate(mine)]
    view = render_home(user, listed, datetime.now(UTC))
    try:
        reviews.surfaces.slack.views_publish(user_id=user, view=view)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("App Home for %s not published: %s", user, slack_error(exc))


def _permalink(reviews: Reviews, ticket: Ticket) -> str | None:
    if ticket.card is None:
        return None
    try:
        resp = reviews.surfaces.slack.chat_getPermalink(channel=ticket.card.channel,
                                                        message_ts=ticket.card.ts)
        return str(resp["permalink"])
    except (SlackApiError, SlackClientError, OSError):
        return None
