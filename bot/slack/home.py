"""App Home: the reviewer's own queue, oldest deadline first, refreshed when opened."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render import render_home
from bot.slack.reviews import Reviews
from bot.slack.webapi import slack_error
from store.models import DecisionKind, TicketStatus

log = logging.getLogger(__name__)
SCAN_LIMIT = 500


def publish_home(reviews: Reviews, user: str) -> None:
    open_tickets = reviews.ledger.list_tickets([TicketStatus.PENDING, TicketStatus.NEEDS_INFO],
                                               limit=SCAN_LIMIT)
    mine = [t for t in open_tickets
            if reviews.authz.refusal(user, t, DecisionKind.APPROVE) is None]
    mine.sort(key=lambda t: t.expires_at)
    listed = [(t, reviews.surfaces.permalink(t.card) if t.card else None) for t in mine]
    view = render_home(user, listed, datetime.now(UTC))
    try:
        reviews.surfaces.slack.views_publish(user_id=user, view=view)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("App Home for %s not published: %s", user, slack_error(exc))
