"""App Home's review-quality section: each route's figures, shown to that route's approvers
(the people who may see them), read from the ledger when the Home tab is opened."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.render.blocks import Block
from bot.slack.quality_view import render_home_quality
from bot.slack.reviews import Reviews
from escalation.quality import route_reports
from store.errors import StoreError
from store.stats import QualityStats

log = logging.getLogger(__name__)
HOME_WINDOW = timedelta(days=30)
HOME_ROUTES = 3  # a few routes' figures; `signoff stats` has the rest


def routes_approved_by(reviews: Reviews, user: str) -> list[str]:
    """Routes whose approvers (users, or members of their user groups) include ``user``."""
    out = []
    for name in sorted(reviews.config.routes):
        principals = reviews.config.route(name).approvers
        if any(p == user or (p.startswith("S") and user in reviews.authz.members(p))
               for p in principals):
            out.append(name)
    return out


def home_quality(reviews: Reviews, user: str) -> list[Block]:
    routes = routes_approved_by(reviews, user)[:HOME_ROUTES]
    if not routes:
        return []
    stats = QualityStats(reviews.ledger.engine)
    try:
        until = reviews.ledger.db_now()
        reports = route_reports(stats, reviews.config.quality, routes,
                                since=until - HOME_WINDOW, until=until)
    except StoreError as exc:
        log.warning("App Home quality figures unavailable: %s", exc)
        return []
    return render_home_quality(reports, HOME_WINDOW.days)
