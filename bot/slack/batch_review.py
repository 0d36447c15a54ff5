"""Deciding a batch card: "Approve all N", "Reject all" (one reason), "Show all", and
rejecting or editing one listed request on its own first.

"Approve all" and "Reject all" are decision clicks like any other: written to the click inbox
before the ack (the inbox row names the batch and the hash of the list the card showed),
decided after it, and ended by the decisions' own transaction or by a message to the clicker.

Authorisation is per ticket, as for single decisions, and all or nothing: when the clicker
may not decide every listed request (one of them was requested for them, they are no longer
an approver, ...), nothing is decided and they are told why. A listed request that changed,
was decided on its own or expired since the card was rendered also refuses the whole click:
the card is refreshed and the reviewer decides the list as it now stands.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render import REASON_BLOCK, parse_reason_submission, render_reject_modal
from bot.render.argmodel import model_from_schema
from bot.render.batch import (
    ACTION_BATCH_APPROVE,
    ACTION_BATCH_ITEM,
    ACTION_BATCH_REJECT,
    ACTION_BATCH_SHOW_ALL,
    CALLBACK_BATCH_REJECT,
    BatchRef,
    parse_batch_metadata,
    parse_batch_value,
    parse_item_value,
    render_batch_decided_note,
    render_batch_reject_modal,
    render_batch_show_all_modal,
)
from bot.render.clicks import render_click_too_old
from bot.render.delegation import BATCH_NEEDS_OWN_RIGHT
from bot.render.edit_form import render_edit_modal
from bot.render.refusals import MISSING_REASON, OWN_REQUEST
from bot.slack.clicks import ClickInbox
from bot.slack.reviews import NotTold, Reviews
from bot.slack.webapi import slack_error
from store.batches import BatchStore
from store.decisions import Capacity
from store.errors import ClickSettled, ClickTooOld, DeadlinePassed, StoreError, TransitionRefused
from store.inbox import Click, NewClick
from store.models import DecisionKind, Ticket

log = logging.getLogger(__name__)
BATCH_LIST = "batch_list"
"""The click inbox row's ``args`` key naming the list hash a batch click is bound to."""


def is_batch_click(click: NewClick) -> bool:
    return bool(click.args) and BATCH_LIST in (click.args or {})


@dataclass
class BatchReviews:
    reviews: Reviews

    @staticmethod
    def is_batch(click: NewClick) -> bool:
        return is_batch_click(click)

    @property
    def store(self) -> BatchStore:
        return self.reviews.surfaces.batch_cards.store

    # -- who may decide -------------------------------------------------------------------

    def refusal(self, user: str, tickets: Sequence[Ticket], kind: DecisionKind) -> str | None:
        """None when ``user`` may make this decision on every one of ``tickets``; else why
        not (nothing is decided: a batch is never decided in part)."""
        if not tickets:
            return "None of the requests on that card is waiting any more."
        n = len(tickets)
        if kind == DecisionKind.APPROVE:
            own = [t.id for t in tickets if t.requested_by == user]
            if own:
                return (f"{OWN_REQUEST} {len(own)} of the {n} listed requests "
                        f"({', '.join(own[:3])}{'…' if len(own) > 3 else ''}) were made for "
                        "you, so nothing was approved. Reject those on their own, or ask "
                        "another approver to approve all.")
        authz = self.reviews.authz
        if _own_right(authz.standing(user, tickets[0], kind, oncall=False)):
            return None  # the route covers them all (members share one route snapshot)
        standings = [(t, authz.standing(user, t, kind)) for t in tickets]
        refused = [(t, r) for t, r in standings if isinstance(r, str)]
        if refused:
            return (f"You may not decide {len(refused)} of the {n} listed requests, so "
                    f"nothing was decided: {refused[0][1]}")
        # A batch is recorded in the reviewer's own right only: authority held through a
        # delegation (or a fallback) must be named, and checked again, one request at a time.
        return None if all(_own_right(c) for _, c in standings) else BATCH_NEEDS_OWN_RIGHT

    # -- the decision, after the ack -----------------------------------------------------

    def decide_click(self, click: Click) -> None:
        said = _Teller(self.reviews, click)
        batch_id, digest = click.ticket_id, str((click.args or {}).get(BATCH_LIST, ""))
        items = self.store.view(batch_id, digest)
        if items is None:
            said("That card does not show a list signoff recorded; nothing was decided.")
            return
        tickets = [self.reviews.ledger.get_ticket(i.ticket_id) for i in items]
        refusal = self.refusal(click.user, tickets, click.kind)
        if refusal is not None:
            said(refusal)
            return
        try:
            done = self.store.decide_all(batch_id, digest, reviewer=click.user, kind=click.kind,
                                         reason=click.reason, click_id=click.id,
                                         click_max_age=self.reviews.click_max_age)
        except DeadlinePassed as exc:
            self._expire(exc.ticket_id)
            self._refused(batch_id, said, f"request {exc.ticket_id} expired")
            return
        except ClickTooOld as exc:
            said(render_click_too_old(click.kind, exc.max_age))
            return
        except ClickSettled:
            log.info("batch click %s was already handled", click.id)
            return
        except (TransitionRefused, StoreError) as exc:
            self._refused(batch_id, said, _why(exc))
            return
        self._after(batch_id, click, [t for t, _ in done], digest)

    def _after(self, batch_id: str, click: Click, decided: list[Ticket], digest: str) -> None:
        surfaces = self.reviews.surfaces
        surfaces.batch_cards.refresh(batch_id)
        for ticket in decided:  # the batch card shows them now; DM copies need their own
            if any(m.role == "dm" for m in ticket.messages):
                surfaces.refresh(ticket)
            else:
                self.reviews.ledger.mark_shown(ticket.id, ticket.version)
        if decided:
            surfaces.reply(decided[0], render_batch_decided_note(
                click.user, click.kind == DecisionKind.APPROVE, len(decided), digest,
                click.reason))

    def _expire(self, ticket_id: str) -> None:
        with contextlib.suppress(TransitionRefused, StoreError):  # decided meanwhile
            self.reviews.ledger.expire(ticket_id)

    def _refused(self, batch_id: str, said: _Teller, why: str) -> None:
        self.reviews.surfaces.batch_cards.refresh(batch_id)
        said(f"Nothing was decided: {why} since the card was shown. The card now lists the "
             "requests still waiting; review it again.")


def _own_right(standing: Capacity | str) -> bool:
    """Authority of one's own (no delegation behind it, not even a fallback's)."""
    return (isinstance(standing, Capacity) and standing.on_behalf_of is None
            and not standing.delegations)


def _why(exc: Exception) -> str:
    ticket_id = getattr(exc, "ticket_id", None)
    return f"request {ticket_id} changed or was decided" if ticket_id else "the list changed"


@dataclass
class _Teller:
    reviews: Reviews
    click: Click

    def __call__(self, text: str) -> None:
        c = self.click
        if not self.reviews.surfaces.tell_clicker(c.user, c.channel, c.response_url, text):
            raise NotTold(f"could not tell {c.user} about batch click {c.id}")
        self.reviews.ledger.tell_click(c.id, text)


# -- Bolt handlers ---------------------------------------------------------------------------

def _origin(body: dict[str, Any]) -> tuple[str | None, str | None]:
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    return channel, container.get("message_ts")


def _batch_click(body: dict[str, Any], kind: DecisionKind, ref: BatchRef,
                 reason: str | None = None, where: tuple[str | None, str | None] | None = None,
                 response_url: str | None = None) -> NewClick:
    channel, ts = where or _origin(body)
    return NewClick(ticket_id=ref.batch_id, user=body["user"]["id"], kind=kind, reason=reason,
                    args={BATCH_LIST: ref.digest}, channel=channel, message_ts=ts,
                    response_url=response_url or body.get("response_url"))


def register_batch(app: App, batches: BatchReviews, inbox: ClickInbox) -> None:
    reviews = batches.reviews

    @app.action(ACTION_BATCH_APPROVE)
    def approve_all(ack: Ack, body: dict[str, Any]) -> None:
        ref = parse_batch_value(str(body["actions"][0].get("value", "")))
        click = inbox.receive(_batch_click(body, DecisionKind.APPROVE, ref))
        ack()
        if click is not None:
            inbox.process_later(click)

    def open_batch_modal(body: dict[str, Any], client: WebClient, reject: bool) -> None:
        ref = parse_batch_value(str(body["actions"][0].get("value", "")))
        channel, ts = _origin(body)
        user = body["user"]["id"]
        batch = batches.store.get(ref.batch_id)
        pending = list(batch.listed)
        if batch.hash != ref.digest:  # an older render: show the list as it stands now
            reviews.surfaces.batch_cards.refresh(ref.batch_id)
            ref = BatchRef(ref.batch_id, batches.store.record_view(batch))
        origin = (channel, ts) if channel and ts else None
        if reject:
            refusal = batches.refusal(user, pending, DecisionKind.REJECT)
            if refusal is not None:
                reviews.surfaces.tell(user, channel, refusal)
                return
            view = render_batch_reject_modal(ref, pending, origin)
        else:
            view = render_batch_show_all_modal(ref, pending, origin)
        _open(reviews, client, body, view)

    app.action(ACTION_BATCH_REJECT)(ack=_ack, lazy=[
        lambda body, client: open_batch_modal(body, client, True)])
    app.action(ACTION_BATCH_SHOW_ALL)(ack=_ack, lazy=[
        lambda body, client: open_batch_modal(body, client, False)])
    app.action(ACTION_BATCH_ITEM)(ack=_ack, lazy=[
        lambda body, client: _item(reviews, body, client)])

    @app.view(CALLBACK_BATCH_REJECT)
    def reject_all(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = (parse_reason_submission(view["state"]["values"]) or "").strip()
        if not text:
            ack(response_action="errors", errors={REASON_BLOCK: MISSING_REASON})
            return
        origin = parse_batch_metadata(view.get("private_metadata", ""))
        urls = body.get("response_urls") or []
        new = _batch_click(body, DecisionKind.REJECT, origin.ref, reason=text,
                           where=(origin.channel, origin.ts),
                           response_url=urls[0].get("response_url") if urls else None)
        click = inbox.receive(new, tell=False)
        if click is None:
            from bot.render.clicks import render_click_field_error
            ack(response_action="errors", errors={REASON_BLOCK: render_click_field_error()})
            return
        ack()
        inbox.process_later(click)


def _ack(ack: Ack) -> None:
    ack()


def _item(reviews: Reviews, body: dict[str, Any], client: WebClient) -> None:
    """Reject or edit one listed request on its own, from the card or the Show all modal
    (a modal on top of a modal is pushed)."""
    selected = (body["actions"][0].get("selected_option") or {}).get("value", "")
    kind_name, ticket_id, seen = parse_item_value(str(selected))
    kind = DecisionKind.EDIT if kind_name == "edit" else DecisionKind.REJECT
    channel, _ = _origin(body)
    user = body["user"]["id"]
    ticket = reviews.start(user, ticket_id, kind, channel=channel, seen=seen)
    if ticket is None:
        return  # refused, and told why
    card = ticket.card
    origin = (card.channel, card.ts) if card else None
    if kind == DecisionKind.EDIT:
        model = model_from_schema(ticket.args_schema) if ticket.args_schema else None
        view = render_edit_modal(ticket, model, origin=origin)
    else:
        view = render_reject_modal(ticket, origin=origin)
    _open(reviews, client, body, view)


def _open(reviews: Reviews, client: WebClient, body: dict[str, Any],
          view: dict[str, Any]) -> None:
    in_modal = (body.get("container") or {}).get("type") == "view"
    try:
        if in_modal:
            client.views_push(trigger_id=body.get("trigger_id"), view=view)
        else:
            client.views_open(trigger_id=body.get("trigger_id"), view=view)
    except (SlackApiError, SlackClientError, OSError) as exc:
        from bot.render import modal_failed_text
        channel, _ = _origin(body)
        reviews.surfaces.tell(body["user"]["id"], channel, modal_failed_text(slack_error(exc)))
