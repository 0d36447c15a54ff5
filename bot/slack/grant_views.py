"""The standing-grant surfaces: "Approve + similar…" opens a form that shows what similar
means; its submission is an approval click (written to the click inbox before the ack) that
also carries the grant; App Home's Revoke stops a grant at once.

"Until end of day" is midnight in the reviewer's own time zone: read from Slack while the
form opens (within a budget: a slow or failed read is UTC, and the form says so), carried
in the form, and turned into an instant when they submit it, from the moment they did.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.render import CHANGED_SINCE_FORM, parse_private_metadata, render_notice_modal
from bot.render.grant import (
    ACTION_GRANT,
    ACTION_REVOKE_GRANT,
    CALLBACK_GRANT,
    SPAN_ACTION,
    SPAN_BLOCK,
    USES_ACTION,
    USES_BLOCK,
    eod_too_soon,
    render_grant_modal,
    zone_of_metadata,
)
from bot.slack.clicks import ClickInbox
from bot.slack.grant_checks import announce_revoked, bound_lines, may_revoke, refusal_to_grant
from bot.slack.reviews import Reviews
from bot.slack.time_zones import FALLBACK, TimeZones, Zone, zone_named
from bot.slack.views import _new, _submit
from store.errors import GrantNotFound, TicketNotFound
from store.grant_store import GrantStore
from store.grants import EOD_MIN_LEFT, MAX_USES, SPANS, GrantSpec, end_of_day, propose_bounds
from store.models import DecisionKind, Ticket

log = logging.getLogger(__name__)
Opener = Callable[..., None]
#: How long after the click the form waits for the reviewer's time zone (read alongside the
#: who-may-decide check); then it opens with UTC, saying so. The trigger_id lives 3 s.
ZONE_BUDGET_S = 1.0


def register_grants(app: App, reviews: Reviews, inbox: ClickInbox, checks: Executor,
                    open_form: Opener, click_of: Callable[[dict[str, Any]], Any],
                    on_revoked: Callable[[str], None]) -> None:
    """``open_form`` and ``click_of`` are the app's own (the same who-may-decide check before
    a form opens); ``on_revoked(user)`` re-publishes that user's App Home."""
    zones = TimeZones(app.client)

    def open_grant(body: dict[str, Any], client: WebClient) -> None:
        c = click_of(body)
        by = time.monotonic() + ZONE_BUDGET_S
        zone = checks.submit(zones.lookup, c.user)
        open_form(reviews, checks, client, c, DecisionKind.APPROVE,
                  lambda ticket: grant_form(reviews, c.user, ticket, c.origin,
                                            _zone_by(zone, by, c.user)))

    app.action(ACTION_GRANT)(ack=_ack, lazy=[open_grant])

    @app.view(CALLBACK_GRANT)
    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        at = datetime.now(UTC)  # read once: the reviewer's day is judged at this instant
        meta = view.get("private_metadata", "")
        origin = parse_private_metadata(meta)
        spec, errors = _parsed(reviews, origin, view["state"]["values"])
        if spec is not None and spec.span == "eod":
            spec, errors = _ending(spec, zone_named(*zone_of_metadata(meta)), at)
        if spec is None:
            ack(response_action="errors", errors=errors)
            return
        _submit(inbox, ack, body, _new(body, origin, DecisionKind.APPROVE,
                                       grant_spec=spec.model_dump(mode="json")), SPAN_BLOCK)

    def revoke(body: dict[str, Any]) -> None:
        user, grant_id = body["user"]["id"], str(body["actions"][0].get("value", ""))
        store = GrantStore(reviews.ledger)
        try:
            grant = store.get(grant_id)
        except GrantNotFound:
            on_revoked(user)
            return
        if may_revoke(reviews.config, reviews.authz, user, grant):
            announce_revoked(reviews.surfaces.api, store.revoke(grant_id, actor=user))
        else:
            log.info("%s may not revoke grant %s", user, grant_id)
        on_revoked(user)

    app.action(ACTION_REVOKE_GRANT)(ack=_ack, lazy=[revoke])


def grant_form(reviews: Reviews, user: str, ticket: Ticket, origin: tuple[str, str] | None,
               zone: Zone = FALLBACK) -> dict[str, Any]:
    """The grant form (end of day in ``zone``), or a notice saying why no grant can be
    made here."""
    refused = refusal_to_grant(reviews.config, reviews.authz, user, ticket)
    if refused is not None:
        return render_notice_modal(refused)
    lines = bound_lines(ticket, propose_bounds(ticket.final_args))
    return render_grant_modal(ticket, lines, SPANS, origin=origin, zone=zone.name,
                              how=zone.source)


def _zone_by(pending: Future[Zone], by: float, user: str) -> Zone:
    """The reviewer's zone if it is read by ``by`` (monotonic), else the UTC fallback."""
    try:
        return pending.result(timeout=max(by - time.monotonic(), 0.0))
    except FutureTimeout:
        log.info("time zone of %s not read in time: the grant form says UTC", user)
        return FALLBACK


def _ending(spec: GrantSpec, zone: Zone, at: datetime
            ) -> tuple[GrantSpec | None, dict[str, str]]:
    """An end-of-day grant submitted at ``at``: it ends at midnight in ``zone``, unless
    that is too close to be worth a grant (then the form says so under the choice)."""
    until = end_of_day(at, zone.tz)
    if until - at < EOD_MIN_LEFT:
        return None, {SPAN_BLOCK: eod_too_soon(zone.name, until - at)}
    return GrantSpec(span=spec.span, max_uses=spec.max_uses, bounds=spec.bounds, until=until,
                     zone=zone.name), {}


def _parsed(reviews: Reviews, origin: Any, values: dict[str, Any]
            ) -> tuple[GrantSpec | None, dict[str, str]]:
    """The grant the form asks for (its bounds from the ticket at the version the form
    showed), or the errors to show under its fields."""
    span = ((values.get(SPAN_BLOCK) or {}).get(SPAN_ACTION) or {}).get("selected_option")
    if not span or span.get("value") not in SPANS:
        return None, {SPAN_BLOCK: "Choose for how long similar requests may run."}
    raw = str(((values.get(USES_BLOCK) or {}).get(USES_ACTION) or {}).get("value") or "")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_USES:
        return None, {USES_BLOCK: f"Enter a whole number from 1 to {MAX_USES}."}
    try:
        ticket = reviews.ledger.get_ticket(origin.ticket_id)
    except TicketNotFound:
        return None, {SPAN_BLOCK: "This request no longer exists."}
    if origin.version != ticket.version:
        reviews.surfaces.refresh(ticket)
        return None, {SPAN_BLOCK: CHANGED_SINCE_FORM}
    return GrantSpec(span=span["value"], max_uses=int(raw),
                     bounds=propose_bounds(ticket.final_args)), {}


def _ack(ack: Ack) -> None:
    ack()
