"""Keeping what reviewers see in Slack in step with the ledger (best effort: the ledger is
the record, and a failed update is logged, never allowed to undo a decision)."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.agent.argmodel import masked_fields
from bot.render import Message, render_card, render_escalation_dm, render_refusal
from bot.render.moved import render_moved_away_note, render_moved_card, render_moved_here_note
from bot.slack.webapi import slack_error
from store.ledger import Ledger
from store.models import SlackRef, Ticket

log = logging.getLogger(__name__)
REFRESH_ROUNDS = 3
# chat.update errors after which the message will never be updated (so nothing to retry).
_GONE = frozenset({"message_not_found", "channel_not_found", "cant_update_message",
                   "edit_window_closed", "is_archived", "not_in_channel", "account_inactive",
                   "invalid_auth", "msg_too_long", "invalid_blocks"})


class Surfaces:
    def __init__(self, slack: WebClient, ledger: Ledger) -> None:
        self.slack, self.ledger = slack, ledger

    def card_message(self, ticket: Ticket) -> Message:
        return render_card(ticket, decisions=self.ledger.decisions(ticket.id),
                           masked=masked_fields(ticket.args_schema))

    def refresh(self, ticket: Ticket) -> bool:
        """Re-render the channel card and the current chain's DM copies in place
        (``chat.update``), and record the version they now show. DMs of a chain an edit
        replaced stay the pointers they became. False when an update failed in a way worth
        trying again (the sweep repairs the card later).

        Two refreshes of one card can reach Slack out of order. The version shown is only
        recorded while the ticket is still at the version rendered; otherwise this render
        may have overwritten a newer one, so the newest is rendered again."""
        for _ in range(REFRESH_ROUNDS):
            shown = self._render(ticket)
            if shown is None:
                return True  # nothing is shown anywhere
            if not shown:
                return False  # an update failed: the sweep repairs the card later
            if self.ledger.mark_shown(ticket.id, ticket.version):
                return True
            ticket = self.ledger.get_ticket(ticket.id)
        return False  # still moving: the sweep will catch up

    def _render(self, ticket: Ticket) -> bool | None:
        """Update every live surface; None when there is none, else whether all took it."""
        refs = ([ticket.card] if ticket.card else []) + [
            m for m in ticket.messages if m.role == "dm"
            and m.epoch in (None, ticket.escalation_epoch)]
        if not refs:
            return None  # nothing shown anywhere (e.g. an allowed call): skip the read
        decisions = self.ledger.decisions(ticket.id)
        masked = masked_fields(ticket.args_schema)
        shown = True
        for ref in refs:
            if ref.role == "dm":
                msg = render_escalation_dm(ticket, ticket.escalation_level,
                                           decisions=decisions, masked=masked)
            else:
                msg = render_card(ticket, decisions=decisions, masked=masked)
            shown &= self._update(ticket, ref, msg)
        return shown

    def _update(self, ticket: Ticket, ref: SlackRef, msg: Message) -> bool:
        """``chat.update``; False only for a failure a later attempt may overcome (a message
        that is gone or cannot be edited will never show more, so it counts as done)."""
        try:
            self.slack.chat_update(channel=ref.channel, ts=ref.ts, text=msg["text"],
                                   blocks=msg["blocks"])
        except (SlackApiError, SlackClientError, OSError) as exc:
            error = slack_error(exc)
            log.warning("chat_update for ticket %s failed: %s", ticket.id, error)
            return error in _GONE
        return True

    def move(self, ticket: Ticket, old: SlackRef | None, editor: str) -> Ticket:
        """An edit sent the request to another route's channel: post the card there, make it
        the ticket's card, and turn the old card into a pointer to it (no buttons left)."""
        message = self.card_message(ticket)
        try:
            resp = self.slack.chat_postMessage(channel=ticket.route.channel,
                                               text=message["text"], blocks=message["blocks"],
                                               unfurl_links=False)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("moved card for ticket %s not delivered: %s", ticket.id,
                        slack_error(exc))
            failed = self.ledger.mark_delivery_failed(ticket.id, target=ticket.route.channel,
                                                      error=slack_error(exc))
            self.refresh(failed)  # the old card stays, as the request now stands
            return failed
        ref = SlackRef(role="card", channel=str(resp["channel"]), ts=str(resp["ts"]))
        moved = self.ledger.record_message(
            ticket.id, ref, audit_kind="moved", shown_version=ticket.version, editor=editor,
            route=ticket.route.name,
            tier=ticket.tier.value, policy_rule=ticket.policy_rule,
            from_channel=old.channel if old else None, from_ts=old.ts if old else None)
        if old is not None:
            self.reply(moved, render_moved_here_note(moved, editor, old.channel))
        self._leave_pointers(moved, old, editor)
        return moved

    def _leave_pointers(self, ticket: Ticket, old: SlackRef | None, editor: str) -> None:
        """The old card and the old chain's DMs point to the new card, with no buttons:
        the people the old chain DM'd may no longer decide (their chain stopped)."""
        pointer = render_moved_card(ticket, editor, masked=masked_fields(ticket.args_schema))
        dms = [m for m in ticket.messages if m.role == "dm"]
        for ref in ([old] if old is not None else []) + dms:
            self._call("chat_update", ticket, channel=ref.channel, ts=ref.ts,
                       text=pointer["text"], blocks=pointer["blocks"])
        if old is not None:
            note = render_moved_away_note(ticket, editor)
            self._call("chat_postMessage", ticket, channel=old.channel, thread_ts=old.ts,
                       text=note["text"], blocks=note["blocks"])

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
