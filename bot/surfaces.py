"""Keeping what reviewers see in Slack in step with the ledger (best effort: the ledger is
the record, and a failed update is logged, never allowed to undo a decision)."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.argmodel import masked_fields
from bot.render import Message, render_card, render_escalation_dm, render_refusal
from bot.slack import slack_error
from store.ledger import Ledger
from store.models import SlackRef, Ticket

log = logging.getLogger(__name__)


class Surfaces:
    def __init__(self, slack: WebClient, ledger: Ledger) -> None:
        self.slack, self.ledger = slack, ledger

    def card_message(self, ticket: Ticket) -> Message:
        return render_card(ticket, decisions=self.ledger.decisions(ticket.id),
                           masked=masked_fields(ticket.args_schema))

    def refresh(self, ticket: Ticket) -> None:
        """Re-render the channel card and every DM copy of it in place (``chat.update``)."""
        decisions = self.ledger.decisions(ticket.id)
        masked = masked_fields(ticket.args_schema)
        refs = ([ticket.card] if ticket.card else []) + [
            m for m in ticket.messages if m.role == "dm"]
        for ref in refs:
            if ref.role == "dm":
                msg = render_escalation_dm(ticket, ticket.escalation_level,
                                           decisions=decisions, masked=masked)
            else:
                msg = render_card(ticket, decisions=decisions, masked=masked)
            self._call("chat_update", ticket, channel=ref.channel, ts=ref.ts,
                       text=msg["text"], blocks=msg["blocks"])

    def reply(self, ticket: Ticket, message: Message) -> None:
        """A reply in the card's thread (reminders, questions, results...)."""
        if ticket.card is None:
            return
        self._call("chat_postMessage", ticket, channel=ticket.card.channel,
                   thread_ts=ticket.card.ts, text=message["text"], blocks=message["blocks"])

    def tell(self, user: str, channel: str | None, text: str, ticket: Ticket | None = None
             ) -> None:
        """An ephemeral note only ``user`` sees, in the channel (or DM) they clicked in."""
        msg = render_refusal(text)
        where = channel or (ticket.card.channel if ticket and ticket.card else None)
        if where is None:
            return
        self._call("chat_postEphemeral", ticket, channel=where, user=user, text=msg["text"],
                   blocks=msg["blocks"])

    def remember(self, ticket: Ticket, ref: SlackRef, kind: str) -> None:
        self.ledger.record_message(ticket.id, ref, audit_kind=kind)

    def _call(self, method: str, ticket: Ticket | None, **kwargs: Any) -> Any:
        try:
            return getattr(self.slack, method)(**kwargs)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("%s for ticket %s failed: %s", method,
                        ticket.id if ticket else "-", slack_error(exc))
            return None
