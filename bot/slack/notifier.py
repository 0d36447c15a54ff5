"""The escalation engine's view of Slack, implemented with the Web API.

Follows the failure contract in :mod:`escalation.notifier`: a failure is retryable only when
Slack certainly posted nothing, so a retry can never make a second message.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render import (
    render_escalation_dm,
    render_escalation_note,
    render_expired_notice,
    render_reminder,
)
from bot.render.batch_thread import render_batch_escalation_note, render_batch_reminder
from bot.render.thread import render_outcome_unknown, with_note
from bot.slack.fallback import OutOfOffice
from bot.slack.surfaces import Surfaces
from bot.slack.webapi import slack_error
from escalation.config import SignoffConfig
from escalation.notifier import DeliveryResult
from store.batches import BatchStore
from store.errors import DeliveryError, StoreError
from store.ledger import Ledger
from store.models import SlackRef, Ticket

log = logging.getLogger(__name__)
_TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable",
              "request_timeout"}


class SlackNotifier:
    def __init__(self, slack: WebClient, ledger: Ledger,
                 config: Callable[[], SignoffConfig] | None = None, *,
                 break_glass: Callable[[Ticket], bool] | None = None) -> None:
        self.slack, self.ledger = slack, ledger
        self.surfaces = Surfaces(slack, ledger, break_glass=break_glass)
        # DMs for people who delegated go to their delegate; fallback approvers get the
        # card when every approver is away (bot.slack.fallback).
        self.away = OutOfOffice(slack, ledger, config)

    def resolve_group(self, group_id: str) -> Sequence[str]:
        try:
            listed: list[str] = self.slack.usergroups_users_list(usergroup=group_id)["users"]
        except (SlackApiError, SlackClientError, OSError) as exc:
            raise _error(exc, posting=False) from exc
        return [str(u) for u in listed]

    def remind(self, ticket: Ticket, waited: timedelta) -> None:
        if ticket.card is None:
            raise DeliveryError("the card was never posted; nothing to remind in")
        self._post(ticket.card.channel, render_reminder(ticket, waited),
                   thread_ts=ticket.card.ts)
        self.away.fallback(ticket)

    def escalate(self, ticket: Ticket, level: int, targets: Sequence[str], *,
                 retry: bool = False) -> Sequence[DeliveryResult]:
        at = datetime.now(UTC)  # read once: who is away is judged at this instant
        results = [self._dm(ticket, level, target, at) for target in targets]
        if not retry:
            self.away.fallback(ticket, at)
        if not retry and ticket.card is not None:
            # The note is a courtesy; the DMs are the escalation, so a failed note is let go.
            with contextlib.suppress(DeliveryError):
                self._post(ticket.card.channel, render_escalation_note(ticket, level, targets),
                           thread_ts=ticket.card.ts)
        return results

    def remind_batch(self, tickets: Sequence[Ticket], waited: Sequence[timedelta]) -> None:
        """One reminder for these members of a batch card, counting only those still waiting
        as the ledger has them now (a member decided since the sweep claimed it is left out;
        with none left, nothing is posted)."""
        card = tickets[0].card if tickets else None
        if card is None:
            raise DeliveryError("the card was never posted; nothing to remind in")
        fresh, on_card = self._members_now(tickets)
        now = [(fresh.get(t.id, t), w) for t, w in zip(tickets, waited, strict=True)]
        waiting = [(t, w) for t, w in now if t.status.is_open and t.card is not None
                   and (t.card.channel, t.card.ts) == (card.channel, card.ts)]
        if not waiting:
            return
        self._post(card.channel, render_batch_reminder([t for t, _ in waiting],
                                                       [w for _, w in waiting],
                                                       max(on_card, len(waiting))),
                   thread_ts=card.ts)
        for ticket, _ in waiting:
            self.away.fallback(ticket)

    def escalate_batch(self, tickets: Sequence[Ticket], level: int,
                       targets: Sequence[Sequence[str]]) -> Sequence[Sequence[DeliveryResult]]:
        """Each member's DMs as :meth:`escalate` sends them, and one note in the card's
        thread for the level instead of one per member."""
        at = datetime.now(UTC)
        results = [[self._dm(t, level, u, at) for u in users]
                   for t, users in zip(tickets, targets, strict=True)]
        for ticket in tickets:
            self.away.fallback(ticket, at)
        card = tickets[0].card if tickets else None
        notified = list(dict.fromkeys(u for users in targets for u in users))
        if card is not None:
            with contextlib.suppress(DeliveryError):  # a courtesy, as for a single request
                self._post(card.channel, render_batch_escalation_note(tickets, level, notified),
                           thread_ts=card.ts)
        return results

    def _members_now(self, tickets: Sequence[Ticket]) -> tuple[dict[str, Ticket], int]:
        """The batch's members as the ledger has them now, and how many its card lists as
        waiting; if that cannot be read, the members as claimed (a reminder is a courtesy)."""
        try:
            batches = BatchStore(self.ledger)
            batch_id = batches.batch_of(tickets[0].id)
            if batch_id is None:
                return {}, len(tickets)
            batch = batches.get(batch_id)
        except StoreError as exc:
            log.warning("batch of %s not read for its reminder: %s", tickets[0].id, exc)
            return {}, len(tickets)
        return {t.id: t for t in batch.tickets}, len(batch.listed)

    def refresh(self, ticket: Ticket) -> bool:
        """Re-render the ticket's card and DM copies as the ledger has them now."""
        return self.surfaces.refresh(self.ledger.get_ticket(ticket.id))

    def expired(self, ticket: Ticket) -> None:
        self.refresh(ticket)  # the card and every DM copy: no live buttons left
        notice = render_expired_notice(ticket)
        if ticket.card is not None:
            self._post(ticket.card.channel, notice, thread_ts=ticket.card.ts)
        channel = self._open_dm(ticket.requested_by)
        self._post(channel, notice)

    def outcome_unknown(self, ticket: Ticket) -> None:
        self.surfaces.refresh(ticket)
        if ticket.card is not None:
            self._post(ticket.card.channel, render_outcome_unknown(ticket),
                       thread_ts=ticket.card.ts)

    def _dm(self, ticket: Ticket, level: int, target: str, at: datetime) -> DeliveryResult:
        """DM ``target`` (or, while they delegate, their delegate: the step still names
        ``target``, whose authority the delegate decides with)."""
        try:
            to, note = self.away.recipient(target, at)
            if to == ticket.requested_by:  # a delegate may never decide their own request
                to, note = target, None
            channel = self._open_dm(to)
            message = with_note(render_escalation_dm(
                ticket, level, decisions=self.ledger.decisions(ticket.id)), note)
            ts = self._post(channel, message)
        except DeliveryError as exc:
            return DeliveryResult(target, False, str(exc), exc.retryable, exc.retry_after)
        return DeliveryResult(target, True,
                              message=SlackRef(role="dm", channel=channel, ts=ts, user=to,
                                               epoch=ticket.escalation_epoch))

    def _open_dm(self, user: str) -> str:
        try:
            return str(self.slack.conversations_open(users=user)["channel"]["id"])
        except (SlackApiError, SlackClientError, OSError) as exc:
            raise _error(exc, posting=False) from exc

    def _post(self, channel: str, message: Any, *, thread_ts: str | None = None) -> str:
        try:
            resp = self.surfaces.api.post(channel, message, thread_ts=thread_ts)
        except (SlackApiError, SlackClientError, OSError) as exc:
            raise _error(exc, posting=True) from exc
        return str(resp["ts"])


def _error(exc: Exception, *, posting: bool) -> DeliveryError:
    """Classify a Slack failure: retry only what certainly posted nothing."""
    name = slack_error(exc)
    if isinstance(exc, SlackApiError) and exc.response is not None:
        status = exc.response.status_code
        if status == 429:
            after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after")
            return DeliveryError(name, retryable=True,
                                 retry_after=float(after[0] if isinstance(after, list) else after)
                                 if after else None)
        transient = status >= 500 or name in _TRANSIENT
        # A 5xx from chat.postMessage may still have posted: never retry a post blindly.
        return DeliveryError(name, retryable=transient and not posting)
    return DeliveryError(name, retryable=not posting)
