"""App Home: the reviewer's own queue, oldest deadline first, refreshed when opened."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.render import render_home
from bot.render.blocks import MAX_VIEW_BLOCKS
from bot.slack import home_delegation
from bot.slack.home_quality import home_quality
from bot.slack.reviews import Reviews
from store.models import DecisionKind, TicketStatus

SCAN_LIMIT = 500


def publish_home(reviews: Reviews, user: str) -> None:
    open_tickets = reviews.ledger.list_tickets([TicketStatus.PENDING, TicketStatus.NEEDS_INFO],
                                               limit=SCAN_LIMIT)
    mine = [t for t in open_tickets
            if reviews.authz.refusal(user, t, DecisionKind.APPROVE, fresh=False) is None]
    mine.sort(key=lambda t: t.expires_at)
    # Card links from where each card was posted: no chat.getPermalink per ticket per view.
    listed = [(t, reviews.surfaces.permalink(t.card) if t.card else None) for t in mine]
    view = render_home(user, listed, datetime.now(UTC))
    # Out of office (delegations given and held), then the figures of ``user``'s routes.
    extra = [*home_delegation.delegation_blocks(reviews, user, datetime.now(UTC)),
             *home_quality(reviews, user)]
    if extra:
        view["blocks"] = [*view["blocks"][: MAX_VIEW_BLOCKS - len(extra)], *extra]
    reviews.surfaces.api.best_effort("views_publish", None, user_id=user, view=view)
