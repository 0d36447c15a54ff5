"""App Home: the reviewer's own queue, oldest deadline first, refreshed when opened."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.render import render_home
from bot.slack.reviews import Reviews
from store.models import DecisionKind, Ticket, TicketStatus

SCAN_LIMIT = 500
LINK_LIMIT = 25  # one chat.getPermalink per listed ticket; the page shows few anyway


def publish_home(reviews: Reviews, user: str) -> None:
    open_tickets = reviews.ledger.list_tickets([TicketStatus.PENDING, TicketStatus.NEEDS_INFO],
                                               limit=SCAN_LIMIT)
    mine = [t for t in open_tickets
            if reviews.authz.refusal(user, t, DecisionKind.APPROVE) is None]
    mine.sort(key=lambda t: t.expires_at)
    listed = [(t, _permalink(reviews, t) if i < LINK_LIMIT else None)
              for i, t in enumerate(mine)]
    view = render_home(user, listed, datetime.now(UTC))
    reviews.surfaces.api.best_effort("views_publish", None, user_id=user, view=view)


def _permalink(reviews: Reviews, ticket: Ticket) -> str | None:
    if ticket.card is None:
        return None
    resp = reviews.surfaces.api.best_effort("chat_getPermalink", ticket,
                                            channel=ticket.card.channel,
                                            message_ts=ticket.card.ts)
    return str(resp["permalink"]) if resp is not None else None
