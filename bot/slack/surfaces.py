"""Keeping what reviewers see in Slack in step with the ledger (best effort: the ledger is
the record, and a failed update is logged, never allowed to undo a decision)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.render import Message, render_card, render_escalation_dm, render_refusal
from bot.render.breakglass import with_witness_button
from bot.render.delegation import FALLBACK_DM_NOTE
from bot.render.moved import render_moved_away_note, render_moved_card, render_moved_here_note
from bot.render.plan import render_plan_card
from bot.render.thread import render_fallback_dm
from bot.slack.batch_cards import BatchCards, on_batch_card
from bot.slack.retry import RetryQueue
from bot.slack.webapi import WebApi, slack_error
from store.batches import BATCH_ROLE
from store.errors import TicketNotFound
from store.ledger import Ledger
from store.models import PLAN_ACTION, Decision, DecisionKind, PlanProgress, SlackRef, Ticket
from store.plans import PlanStore

log = logging.getLogger(__name__)
REFRESH_ROUNDS = 3


class Surfaces:
    """Which message shows a ticket where; every call to Slack goes through :class:`WebApi`."""

    def __init__(self, slack: WebClient | None, ledger: Ledger,
                 retries: RetryQueue | None = None, *,
                 break_glass: Callable[[Ticket], bool] | None = None) -> None:
        self.slack, self.ledger = slack, ledger
        self.api = WebApi(slack, ledger, retries)
        self.batch_cards = BatchCards(self.api, ledger)
        self._workspace_url: str | None = None
        # Whether policy lets a responder break glass on a ticket (the card offers it).
        self._offers = break_glass or (lambda _ticket: False)

    def card_message(self, ticket: Ticket) -> Message:
        return self._card(ticket, self.ledger.decisions(ticket.id))

    def _card(self, ticket: Ticket, decisions: Sequence[Decision]) -> Message:
        """The card, or a plan's card with its steps' progress (read now, so a refresh
        never shows older progress than the ledger's)."""
        if ticket.action != PLAN_ACTION:
            return render_card(ticket, decisions=decisions,
                               break_glass=self._offers(ticket))
        try:
            progress: PlanProgress | None = PlanStore(self.ledger).progress(ticket.id)
        except TicketNotFound:
            progress = None
        return render_plan_card(ticket, decisions=decisions, progress=progress)

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
            m for m in ticket.messages if m.role in ("dm", "fallback")
            and m.epoch in (None, ticket.escalation_epoch)]
        if not refs:
            return None  # nothing shown anywhere (e.g. an allowed call): skip the read
        decisions = self.ledger.decisions(ticket.id)
        shown = True
        batched = on_batch_card(ticket)
        for ref in refs:
            if batched and ref is ticket.card:  # its batch's card: re-render the batch
                shown &= self.batch_cards.refresh_for(ticket)
                continue
            if ref.role == "fallback":
                msg = render_fallback_dm(ticket, FALLBACK_DM_NOTE, decisions=decisions)
            elif ref.role == "dm":
                msg = render_escalation_dm(ticket, ticket.escalation_level,
                                           decisions=decisions)
            else:
                msg = self._witness(ticket, decisions, self._card(ticket, decisions))
            shown &= self.api.update(ticket, ref, msg)
        return shown

    def _witness(self, ticket: Ticket, decisions: Sequence[Decision], msg: Message) -> Message:
        """A card run by break-glass offers Witness until a second person has witnessed."""
        if ticket.status.is_open or not any(d.kind == DecisionKind.BREAK_GLASS
                                            for d in decisions):
            return msg
        record = self.ledger.break_glass_of(ticket.id)
        if record is None or record.witnessed:
            return msg
        return {"text": msg["text"], "blocks": with_witness_button(msg["blocks"], ticket)}

    def post_card(self, ticket: Ticket) -> Ticket:
        """Post a new request's card (recorded, or its failure, by :class:`WebApi`)."""
        return self.api.post_card(ticket, self._card(ticket, ()))

    def move(self, ticket: Ticket, old: SlackRef | None, editor: str) -> Ticket:
        """An edit sent the request to another route's channel: post the card there, make it
        the ticket's card, and turn the old card into a pointer to it (no buttons left)."""
        moved, posted = self.api.move_card(ticket, self.card_message(ticket), old, editor)
        if not posted:
            self.refresh(moved)  # the old card stays, as the request now stands
            return moved
        if old is not None:
            self.reply(moved, render_moved_here_note(moved, editor, old.channel))
        self._leave_pointers(moved, old, editor)
        return moved

    def _leave_pointers(self, ticket: Ticket, old: SlackRef | None, editor: str) -> None:
        """The old card and the old chain's DMs point to the new card, with no buttons:
        the people the old chain DM'd may no longer decide (their chain stopped)."""
        pointer = render_moved_card(ticket, editor)
        dms = [m for m in ticket.messages if m.role == "dm"]
        batched = old is not None and any(m.role == BATCH_ROLE and m.ts == old.ts
                                           for m in ticket.messages)
        if batched:  # the old card is its batch's: it lists the others, so re-render it
            self.batch_cards.refresh_for(ticket)
        for ref in ([old] if old is not None and not batched else []) + dms:
            self._send("chat_update", ticket, pointer, channel=ref.channel, ts=ref.ts)
        if old is not None:
            note = render_moved_away_note(ticket, editor)
            self._send("chat_postMessage", ticket, note, channel=old.channel, thread_ts=old.ts)

    def reply(self, ticket: Ticket, message: Message) -> None:
        """A reply in the card's thread (reminders, questions, results...)."""
        if ticket.card is None:
            return
        self._send("chat_postMessage", ticket, message, channel=ticket.card.channel,
                   thread_ts=ticket.card.ts)

    def tell(self, user: str, channel: str | None, text: str, ticket: Ticket | None = None
             ) -> None:
        """An ephemeral note only ``user`` sees, in the channel (or DM) they clicked in."""
        msg = render_refusal(text)
        where = channel or (ticket.card.channel if ticket and ticket.card else None)
        if where is None:
            return
        self._send("chat_postEphemeral", ticket, msg, channel=where, user=user)

    def tell_clicker(self, user: str, channel: str | None, response_url: str | None,
                     text: str, ticket: Ticket | None = None) -> bool:
        """:meth:`tell`, falling back to the click's ``response_url`` (ephemeral, valid 30
        minutes, 5 uses); True once one of them reached Slack."""
        msg = render_refusal(text)
        where = channel or (ticket.card.channel if ticket and ticket.card else None)
        if where is not None and self.api.best_effort(
                "chat_postEphemeral", ticket, channel=where, user=user, text=msg["text"],
                blocks=msg["blocks"]) is not None:
            return True
        if response_url is None:
            return False
        try:
            resp = WebhookClient(response_url, timeout=5).send(
                text=msg["text"], blocks=msg["blocks"], response_type="ephemeral",
                replace_original=False)
        except (SlackClientError, OSError) as exc:
            log.warning("response_url for %s failed: %s", user, slack_error(exc))
            return False
        return bool(resp.status_code == 200)

    def permalink(self, ref: SlackRef) -> str | None:
        """The link to a message signoff posted, from where it was posted (channel and ts):
        Slack's permalinks are the workspace URL + ``archives/<channel>/p<ts without the
        dot>``, so no ``chat.getPermalink`` call per message is needed. The workspace URL
        is read once (``auth.test``)."""
        if self._workspace_url is None:
            answer = self.api.best_effort("auth_test", None)
            if not answer or not answer.get("url"):
                return None
            self._workspace_url = str(answer["url"])
        base = self._workspace_url.rstrip("/")
        return f"{base}/archives/{ref.channel}/p{ref.ts.replace('.', '')}"

    def _send(self, method: str, ticket: Ticket | None, message: Message, **where: Any) -> None:
        self.api.best_effort(method, ticket, text=message["text"], blocks=message["blocks"],
                             **where)
