"""A test-only notifier that really talks Slack's Web API (here: the local sandbox).

It does what the bot's notifier does, minus the cards' Block Kit and the escalation note in
the card's thread: ``conversations.open`` + ``chat.postMessage`` per DM, thread replies for
reminders, ``chat.update`` on expiry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from escalation.notifier import DeliveryResult
from store.errors import DeliveryError
from store.models import SlackRef, Ticket


class PlainSlackNotifier:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def resolve_group(self, group_id: str) -> Sequence[str]:
        return list(self.client.usergroups_users_list(usergroup=group_id)["users"])

    def remind(self, ticket: Ticket, waited: timedelta) -> None:
        card = _card(ticket)
        self._call(self.client.chat_postMessage, channel=card.channel, thread_ts=card.ts,
                   text=f"Reminder: {ticket.id} has waited {int(waited.total_seconds())}s")

    def escalate(self, ticket: Ticket, level: int, targets: Sequence[str], *,
                 retry: bool = False) -> Sequence[DeliveryResult]:
        return [self._dm(ticket, level, user) for user in targets]

    def remind_batch(self, tickets: Sequence[Ticket], waited: Sequence[timedelta]) -> None:
        card = _card(tickets[0])
        self._call(self.client.chat_postMessage, channel=card.channel, thread_ts=card.ts,
                   text=f"Reminder: {len(tickets)} requests have waited")

    def escalate_batch(self, tickets: Sequence[Ticket], level: int,
                       targets: Sequence[Sequence[str]]) -> Sequence[Sequence[DeliveryResult]]:
        return [[self._dm(t, level, u) for u in users] for t, users in
                zip(tickets, targets, strict=True)]

    def expired(self, ticket: Ticket) -> None:
        card = _card(ticket)
        self._call(self.client.chat_update, channel=card.channel, ts=card.ts,
                   text=f"{ticket.id} expired — nobody decided in time; nothing was executed")

    def refresh(self, ticket: Ticket) -> bool:
        card = _card(ticket)
        self._call(self.client.chat_update, channel=card.channel, ts=card.ts,
                   text=f"{ticket.id} is {ticket.status.value}")
        return True

    def outcome_unknown(self, ticket: Ticket) -> None:
        card = _card(ticket)
        self._call(self.client.chat_postMessage, channel=card.channel, thread_ts=card.ts,
                   text=f"{ticket.id}: outcome unknown")

    def _dm(self, ticket: Ticket, level: int, user: str) -> DeliveryResult:
        try:
            channel = self.client.conversations_open(users=user)["channel"]["id"]
            posted = self.client.chat_postMessage(channel=channel,
                                                  text=f"{ticket.id} needs you (level {level})")
        except SlackApiError as exc:
            error = DeliveryError(str(exc.response.get("error")),
                                  retryable=exc.response.status_code == 429)
            return DeliveryResult(user, False, str(error), error.retryable)
        return DeliveryResult(user, True, message=SlackRef(role="dm", channel=channel,
                                                            ts=posted["ts"], user=user))

    @staticmethod
    def _call(method: object, **kwargs: object) -> None:
        try:
            method(**kwargs)  # type: ignore[operator]
        except SlackApiError as exc:
            raise DeliveryError(str(exc.response.get("error")),
                                retryable=exc.response.status_code == 429) from exc


def _card(ticket: Ticket) -> SlackRef:
    if ticket.card is None:
        raise DeliveryError("the ticket has no card")
    return ticket.card
