"""Break-glass in Slack: the card's button and its modal, the decision, the security post,
the Witness button, and the unwitnessed-override DMs the sweep sends.

Every check is made twice: before the modal opens (nobody types a justification that cannot
count) and again when the click is decided, against the configuration in force then and the
ticket as it stands, under its row lock for what the ledger can see (open, version seen,
deadline, requester). A refusal records nothing and tells the clicker why.

The justification goes through the click inbox like every decision, so an acknowledged
break-glass ends in its decision or a message to the clicker. A Witness click is answered
after its ack; one lost in a crash only lets the sweep escalate the override, which is the
safe way to fail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.render import CHANGED_SINCE_FORM
from bot.render import breakglass as text
from bot.render.canary import render_canary_missed
from bot.render.clicks import render_click_too_old
from bot.render.ids import ACTION_BREAK_GLASS, ACTION_WITNESS, CALLBACK_BREAK_GLASS
from bot.render.modals import modal_failed_text, parse_private_metadata
from bot.render.refusals import NO_SUCH_REQUEST, rate_limited
from bot.slack.authz import Authorizer, GroupsBusy
from bot.slack.clicks import ClickInbox
from bot.slack.delegation import identities
from bot.slack.reviews import Reviews, _Teller
from bot.slack.surfaces import Surfaces
from bot.slack.views import _new, _submit
from bot.slack.webapi import slack_error
from escalation.breakglass import Allowed, terms_for, witnesses
from escalation.config import SignoffConfig
from store.canaries import MISS, CanaryStore
from store.delegations import DelegationStore
from store.errors import (
    AlreadyDecided,
    ChangedSinceSeen,
    ClickSettled,
    ClickTooOld,
    DeadlinePassed,
    StoreError,
    TicketNotFound,
    TransitionRefused,
)
from store.inbox import Click
from store.ledger import Ledger
from store.models import BreakGlass, DecisionKind, SlackRef, Ticket, is_user_group

log = logging.getLogger(__name__)


def offers(config: SignoffConfig) -> Callable[[Ticket], bool]:
    """Whether a ticket's card offers "Break glass" (policy allows it now)."""
    return lambda ticket: terms_for(config, ticket) is not None


@dataclass
class BreakGlassDesk:
    reviews: Reviews
    config: SignoffConfig
    authz: Authorizer

    @property
    def ledger(self) -> Ledger:
        return self.reviews.ledger

    # -- who may ------------------------------------------------------------------------

    def check(self, user: str, ticket: Ticket) -> tuple[Allowed | None, str | None]:
        """The terms, when ``user`` may break glass on ``ticket`` now; else why not."""
        allowed = terms_for(self.config, ticket)
        if allowed is None:
            return None, text.NOT_ALLOWED
        if not allowed.terms.allow_self and ticket.requested_by in self._same_person(user):
            return None, text.OWN_REQUEST
        try:
            if allowed.responders is not None:
                ok = user in self._expand(allowed.responders)
            else:
                # Authority in one's own right only: a delegation or a fallback lends no
                # power to act alone (Authorizer.approvers, not the delegating check).
                ok = user in Authorizer.approvers(self.authz, ticket)
        except GroupsBusy as busy:
            return None, rate_limited(busy.wait)
        return (allowed, None) if ok else (None, text.NOT_A_RESPONDER)

    def _same_person(self, user: str) -> frozenset[str]:
        """``user`` and everyone an active delegation makes one person with them (read
        fresh): none of them breaks glass on a request made on behalf of another."""
        links = DelegationStore(self.ledger).active_for({user}, datetime.now(UTC))
        return identities(user, links)

    def _expand(self, principals: Iterable[str]) -> set[str]:
        users: set[str] = set()
        for p in principals:
            users |= set(self.authz.members(p)) if is_user_group(p) else {p}
        return users

    # -- the button and the modal ---------------------------------------------------------

    def open_modal(self, body: dict[str, Any], client: WebClient) -> None:
        """After the ack: refuse at once who may not, else open the justification form."""
        from bot.slack.app import Click as ButtonClick

        c = ButtonClick.of(body)
        surfaces = self.reviews.surfaces
        ticket = self.reviews.start(c.user, c.ticket_id, DecisionKind.BREAK_GLASS,
                                    channel=c.channel, seen=c.seen, authorise=False)
        if ticket is None:
            return  # told why
        allowed, refusal = self.check(c.user, ticket)
        if allowed is None:
            surfaces.tell(c.user, c.channel, refusal or text.NOT_ALLOWED, ticket)
            return
        view = text.render_break_glass_modal(ticket, witness_within=allowed.terms.witness_within,
                                             origin=c.origin)
        try:
            client.views_open(trigger_id=c.trigger_id, view=view)
        except (SlackApiError, SlackClientError, OSError) as exc:
            surfaces.tell(c.user, c.channel, modal_failed_text(slack_error(exc)), ticket)

    def submit(self, inbox: ClickInbox, ack: Ack, body: dict[str, Any],
               view: dict[str, Any]) -> None:
        """Validated before the ack (errors under the field), then written to the inbox."""
        block = text.JUSTIFICATION_BLOCK
        justification = text.parse_justification(view["state"]["values"])
        if not justification:
            ack(response_action="errors", errors={block: text.MISSING_JUSTIFICATION})
            return
        origin = parse_private_metadata(view.get("private_metadata", ""))
        user = body["user"]["id"]
        try:
            ticket = self.ledger.get_ticket(origin.ticket_id)
        except TicketNotFound:
            ack(response_action="errors", errors={block: NO_SUCH_REQUEST})
            return
        if ticket.status.is_open and origin.version != ticket.version:
            ack(response_action="errors", errors={block: CHANGED_SINCE_FORM})
            self.reviews.surfaces.refresh(ticket)
            return
        allowed, refusal = self.check(user, ticket)
        if allowed is None and ticket.status.is_open:
            ack(response_action="errors", errors={block: refusal or text.NOT_ALLOWED})
            return
        _submit(inbox, ack, body, _new(body, origin, DecisionKind.BREAK_GLASS,
                                       reason=justification), block)

    # -- the decision ---------------------------------------------------------------------

    def decide(self, click: Click) -> Ticket | None:
        """Decide a break-glass click from the inbox: checked again, then one transaction."""
        said = _Teller(self.reviews, click.user, click.channel, click)
        try:
            ticket = self.ledger.get_ticket(click.ticket_id)
        except TicketNotFound:
            said(NO_SUCH_REQUEST)
            return None
        if not ticket.status.is_open:
            self.reviews._already_decided(ticket, said)
            return None
        allowed, refusal = self.check(click.user, ticket)
        if allowed is None:
            said(refusal or text.NOT_ALLOWED, ticket)
            return None
        if click.shown_version != ticket.version:
            self.reviews._changed(ticket, said)
            return None
        if ticket.canary is not None:  # a test request: breaking glass on it is a miss
            settled = CanaryStore(self.ledger).settle_canary(ticket.id, reviewer=click.user,
                                                             result=MISS)
            self.reviews.surfaces.refresh(settled)
            said(render_canary_missed(ticket)["text"], ticket)
            return settled
        try:
            after, _decision, record = self.ledger.break_glass(
                ticket.id, responder=click.user, justification=click.reason or "",
                terms=allowed.terms, expected_version=click.shown_version, click_id=click.id,
                click_max_age=self.reviews.click_max_age)
        except Exception as exc:
            self._refused(exc, ticket, said)
            return None
        self.reviews.surfaces.refresh(after)
        self.announce(after, record, allowed.security_channel)
        return after

    def _refused(self, exc: Exception, ticket: Ticket, said: _Teller) -> None:
        if isinstance(exc, DeadlinePassed):
            self.reviews._expired(ticket, said)
        elif isinstance(exc, ChangedSinceSeen):
            self.reviews._changed(self.ledger.get_ticket(ticket.id), said)
        elif isinstance(exc, AlreadyDecided):
            self.reviews._already_decided(self.ledger.get_ticket(ticket.id), said)
        elif isinstance(exc, TransitionRefused):
            said(f"Break-glass refused: {exc.args[0].split('; ', 1)[-1]}. Nothing was "
                 "recorded.", ticket)
        elif isinstance(exc, ClickTooOld):
            said(render_click_too_old(DecisionKind.BREAK_GLASS, exc.max_age), ticket)
        elif isinstance(exc, ClickSettled):
            log.info("break-glass click on %s was already handled", ticket.id)
        else:
            raise exc

    def announce(self, ticket: Ticket, record: BreakGlass, channel: str) -> None:
        """Loudly, in the security channel (recorded and audited), and in the card's thread."""
        surfaces = self.reviews.surfaces
        try:
            resp = surfaces.api.post(channel, text.render_security_post(ticket, record))
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.error("break-glass on %s not posted to %s: %s", ticket.id, channel,
                      slack_error(exc))
            self.ledger.record_event(ticket.id, "delivery_failed", role="break_glass",
                                     target=channel, error=slack_error(exc))
        else:
            ref = SlackRef(role="security", channel=channel, ts=str(resp["ts"]))
            self.ledger.record_security_post(ticket.id, ref)
            self.ledger.record_message(ticket.id, ref)
            record = record.model_copy(update={"security_channel": channel,
                                               "security_ts": ref.ts})
        surfaces.reply(ticket, text.render_break_glass_note(ticket, record))

    # -- witnessing -----------------------------------------------------------------------

    def witness(self, body: dict[str, Any]) -> None:
        """After the ack: a second person acknowledges the break-glass (or is told why not).
        The click is acknowledged before it is written, so a database failure must still end
        in a message: the witness then clicks again (an unwitnessed break-glass escalates
        meanwhile, it is never taken as witnessed)."""
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or (
            body.get("container") or {}).get("channel_id")
        try:
            self._witness(user, channel, str(body["actions"][0].get("value", "")))
        except StoreError as exc:
            log.warning("witness by %s not recorded: %s", user, exc)
            self.reviews.surfaces.tell(user, channel, text.WITNESS_UNRECORDED)

    def _witness(self, user: str, channel: str | None, ticket_id: str) -> None:
        tell = self.reviews.surfaces.tell
        try:
            ticket = self.ledger.get_ticket(ticket_id)
        except TicketNotFound:
            tell(user, channel, NO_SUCH_REQUEST)
            return
        record = self.ledger.break_glass_of(ticket_id)
        refusal = self._witness_refusal(user, ticket, record)
        if refusal is not None:
            tell(user, channel, refusal, ticket)
            return
        try:
            ticket, record = self.ledger.witness(ticket_id, witness=user)
        except (TransitionRefused, TicketNotFound):
            record = self.ledger.break_glass_of(ticket_id)
            tell(user, channel, text.already_witnessed(record) if record and record.witnessed
                 else text.NO_BREAK_GLASS, ticket)
            return
        self.show(ticket, record)
        self.reviews.surfaces.refresh(ticket)  # the card's Witness button goes
        self.reviews.surfaces.reply(ticket, text.render_witnessed_note(record))
        tell(user, channel, text.WITNESSED, ticket)

    def _witness_refusal(self, user: str, ticket: Ticket, record: BreakGlass | None
                         ) -> str | None:
        if record is None:
            return text.NO_BREAK_GLASS
        if record.witnessed:
            return text.already_witnessed(record)
        same = self._same_person(user)  # a delegation makes two people one
        if record.responder in same:
            return text.WITNESS_SELF
        if ticket.requested_by in same:
            return text.WITNESS_REQUESTER
        try:
            eligible = self._expand(witnesses(self.config, ticket))
        except GroupsBusy as busy:
            return rate_limited(busy.wait)
        return None if user in eligible else text.NOT_A_WITNESS

    def show(self, ticket: Ticket, record: BreakGlass) -> None:
        """The security post as the record now stands (witnessed: no button left)."""
        if record.security_channel and record.security_ts:
            ref = SlackRef(role="security", channel=record.security_channel,
                           ts=record.security_ts)
            self.reviews.surfaces.api.update(ticket, ref, text.render_security_post(ticket,
                                                                                    record))


class BreakGlassNotifier:
    """The unwitnessed sweep's Slack side (:class:`escalation.breakglass.UnwitnessedNotifier`)."""

    def __init__(self, surfaces: Surfaces, slack: WebClient) -> None:
        self.surfaces, self.slack = surfaces, slack

    def resolve_group(self, group_id: str) -> Sequence[str]:
        try:
            return [str(u) for u in self.slack.usergroups_users_list(usergroup=group_id)["users"]]
        except (SlackApiError, SlackClientError, OSError):
            return []  # nobody from an unreadable group; the others are still told

    def unwitnessed(self, ticket: Ticket, record: BreakGlass, level: int,
                    users: Sequence[str]) -> list[tuple[str, str]]:
        failed: list[tuple[str, str]] = []
        message = text.render_unwitnessed_dm(ticket, record, level)
        for user in users:
            try:
                channel = str(self.slack.conversations_open(users=user)["channel"]["id"])
                self.surfaces.api.post(channel, message)
            except (SlackApiError, SlackClientError, OSError) as exc:
                failed.append((user, slack_error(exc)))
        if record.security_channel and record.security_ts:
            ref = SlackRef(role="security", channel=record.security_channel,
                           ts=record.security_ts)
            self.surfaces.api.update(ticket, ref, text.render_security_post(ticket, record))
        return failed


def register_break_glass(app: App, desk: BreakGlassDesk, inbox: ClickInbox) -> None:
    def ack_only(ack: Ack) -> None:
        ack()

    def open_break_glass_modal(body: dict[str, Any], client: WebClient) -> None:
        desk.open_modal(body, client)

    def witness_break_glass(body: dict[str, Any]) -> None:
        desk.witness(body)

    app.action(ACTION_BREAK_GLASS)(ack=ack_only, lazy=[open_break_glass_modal])
    app.action(ACTION_WITNESS)(ack=ack_only, lazy=[witness_break_glass])

    @app.view(CALLBACK_BREAK_GLASS)
    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        desk.submit(inbox, ack, body, view)


__all__ = ["BreakGlassDesk", "BreakGlassNotifier", "offers", "register_break_glass"]
