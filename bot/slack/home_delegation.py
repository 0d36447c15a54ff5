"""App Home's out-of-office section: a reviewer delegates their own authority (a form with a
person and the day they are back), sees their delegations, and revokes them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render.blocks import Block
from bot.render.delegation import (
    ACTION_DELEGATE_OPEN,
    ACTION_DELEGATE_REVOKE,
    CALLBACK_DELEGATE,
    DELEGATE_TO_BLOCK,
    DELEGATE_UNTIL_BLOCK,
    MISSING_DELEGATE,
    MISSING_UNTIL,
    parse_delegate_submission,
    render_delegate_modal,
    render_delegation_blocks,
)
from bot.render.grant import zone_of_metadata
from bot.slack.reviews import Reviews
from bot.slack.time_zones import TimeZones, Zone, zone_named
from bot.slack.webapi import slack_error
from store.delegations import MAX_PERIOD, DelegationStore
from store.errors import DelegationInvalid, StoreError
from store.grants import day_start

log = logging.getLogger(__name__)


def delegation_blocks(reviews: Reviews, user: str, at: datetime) -> list[Block]:
    """The section for ``user``'s Home tab (nothing when the ledger cannot be read)."""
    try:
        found = DelegationStore(reviews.ledger).listing(at=at, user=user)
    except StoreError as exc:
        log.warning("App Home delegations unavailable: %s", exc)
        return []
    return render_delegation_blocks(user, [d for d in found if d.principal == user],
                                    [d for d in found if d.delegate == user])


def register_delegation(app: App, reviews: Reviews,
                        publish_home: Callable[[Reviews, str], None]) -> None:
    """The form, its submission and Revoke; ``publish_home`` re-renders the Home tab."""
    book = DelegationStore(reviews.ledger)
    zones = TimeZones(app.client)

    def open_form(body: dict[str, Any], client: WebClient) -> None:
        # Read before the form opens (within its trigger's 3 s): the day back starts at
        # midnight in the reviewer's own zone, which the form names and carries back.
        zone = zones.lookup(body["user"]["id"])
        today = datetime.now(UTC).astimezone(zone.tz).date()
        view = render_delegate_modal(today, zone=zone.name, how=zone.source)
        try:
            client.views_open(trigger_id=body["trigger_id"], view=view)
        except Exception as exc:
            log.warning("delegation form not opened: %s", slack_error(exc))

    def revoke(body: dict[str, Any]) -> None:
        user = body["user"]["id"]
        try:
            book.revoke(int(body["actions"][0]["value"]), at=datetime.now(UTC), by=user,
                        principal=user)
        except (DelegationInvalid, ValueError) as exc:
            log.info("revoke by %s refused: %s", user, exc)
        publish_home(reviews, user)

    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        user = body["user"]["id"]
        at = datetime.now(UTC)  # read once: the form is judged at this instant
        to, back, note = parse_delegate_submission(view.get("state", {}).get("values", {}))
        zone = zone_named(*zone_of_metadata(view.get("private_metadata", "")))
        errors = _form_errors(user, to, back, at, zone) or _unreachable(client, to)
        if not errors:
            assert to is not None and back is not None
            try:
                book.delegate(user, to, until=day_start(back, zone.tz), at=at, by=user,
                              reason=note)
            except DelegationInvalid as exc:
                errors = {DELEGATE_TO_BLOCK: str(exc)[:150]}
            except StoreError as exc:
                errors = {DELEGATE_TO_BLOCK: f"Not saved ({exc}); try again."[:150]}
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()

    def republish(body: dict[str, Any]) -> None:
        publish_home(reviews, body["user"]["id"])

    app.action(ACTION_DELEGATE_OPEN)(ack=_ack, lazy=[open_form])
    app.action(ACTION_DELEGATE_REVOKE)(ack=_ack, lazy=[revoke])
    app.view(CALLBACK_DELEGATE)(ack=submit, lazy=[republish])


def _form_errors(user: str, to: str | None, back: Any, at: datetime,
                 zone: Zone) -> dict[str, str]:
    if to is None:
        return {DELEGATE_TO_BLOCK: MISSING_DELEGATE}
    if to == user:
        return {DELEGATE_TO_BLOCK: "Choose someone else: you can't delegate to yourself."}
    if back is None:
        return {DELEGATE_UNTIL_BLOCK: MISSING_UNTIL}
    until = day_start(back, zone.tz)
    if until <= at:
        return {DELEGATE_UNTIL_BLOCK: "Choose a day after today."}
    if until - at > MAX_PERIOD:
        return {DELEGATE_UNTIL_BLOCK: f"At most {MAX_PERIOD.days} days ahead."}
    return {}


def _unreachable(client: WebClient, to: str | None) -> dict[str, str]:
    """A delegate who can never decide: a deactivated account, or an app's bot user. A
    lookup that fails is let through (the delegation itself lends nothing more)."""
    if to is None:
        return {}
    try:
        info = client.users_info(user=to).get("user") or {}
    except (SlackApiError, SlackClientError, OSError):
        return {}
    if info.get("deleted"):
        return {DELEGATE_TO_BLOCK: "This account is deactivated: choose someone who is here."}
    if info.get("is_bot"):
        return {DELEGATE_TO_BLOCK: "Choose a person: an app cannot review requests."}
    return {}


def _ack(ack: Ack) -> None:
    ack()
