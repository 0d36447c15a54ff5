"""Review: turning a reviewer's click or modal into a ledger decision, and telling people."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from bot.render import render_already_decided, render_changed_since_seen, render_info_request
from bot.render.refusals import (
    ALREADY_APPROVED_BY_YOU,
    EXPIRED_CLICK,
    NO_SUCH_REQUEST,
    edit_denied,
)
from bot.slack.authz import Authorizer
from bot.slack.canary import settle_canary
from bot.slack.surfaces import Surfaces
from escalation.config import SignoffConfig
from escalation.deadlines import deadlines
from escalation.policy import Policy, PolicyOutcome, Proposal
from store.decisions import Replan, Reroute
from store.errors import (
    AlreadyDecided,
    ChangedSinceSeen,
    DeadlinePassed,
    DuplicateApproval,
    TicketNotFound,
    TransitionRefused,
)
from store.ledger import Ledger
from store.models import DecisionKind, Ticket

log = logging.getLogger(__name__)

#: Decisions serialise on the ticket row anyway; a small pool keeps a burst of clicks from
#: starving Bolt's listener threads, which must stay free to ack within 3 seconds.
DECISION_WORKERS = 2

@dataclass
class Reviews:
    ledger: Ledger
    config: SignoffConfig
    authz: Authorizer
    surfaces: Surfaces
    pool: Executor
    """Where decisions run after the ack (the composition root gives the ack-first pool)."""

    def decide_later(self, *args: Any, **kwargs: Any) -> Future[Ticket | None]:
        """:meth:`decide` on the decision pool, so the handler's thread is free at once."""
        future = self.pool.submit(self.decide, *args, **kwargs)
        future.add_done_callback(_log_failure)
        return future

    @property
    def policy(self) -> Policy:
        return Policy(self.config)

    def start(self, user: str, ticket_id: str, kind: DecisionKind, *, channel: str | None,
              seen: int | None) -> Ticket | None:
        """The ticket, when ``user`` may start this decision from a view of version ``seen``
        (checked before a modal opens, so nobody types a reason that cannot count); else
        None, and ``user`` has been told why."""
        try:
            ticket = self.ledger.get_ticket(ticket_id)
        except TicketNotFound:
            self.surfaces.tell(user, channel, NO_SUCH_REQUEST)
            return None
        if not ticket.status.is_open:
            self._already_decided(ticket, user, channel)
            return None
        refusal = self.authz.refusal(user, ticket, kind)
        if refusal is not None:
            self.surfaces.tell(user, channel, refusal, ticket)
            return None
        if seen != ticket.version:
            self._changed(ticket, user, channel)
            return None
        return ticket

    def decide(self, ticket_id: str, user: str, kind: DecisionKind, *, channel: str | None,
               seen: int | None, reason: str | None = None,
               args: dict[str, Any] | None = None,
               reroute: Reroute | None = None) -> Ticket | None:
        """Record the decision made on version ``seen`` of the ticket and update the card;
        refusals go to ``user`` privately. A decision on an older version than the ticket's
        binds something the reviewer never saw: it is refused, and the card refreshed."""
        try:
            before = self.ledger.get_ticket(ticket_id)
        except TicketNotFound:
            self.surfaces.tell(user, channel, NO_SUCH_REQUEST)
            return None
        refusal = self.authz.refusal(user, before, kind)
        if refusal is not None:
            self.surfaces.tell(user, channel, refusal, before)
            return None
        if before.status.is_open and seen != before.version:
            self._changed(before, user, channel)
            return None
        ticket = self._record(before, user, kind, channel, reason=reason, args=args,
                              reroute=reroute, expected_version=seen)
        if ticket is None:
            return None
        if reroute is not None and _moved(before, ticket):
            ticket = self.surfaces.move(ticket, before.card, user)
        else:
            self.surfaces.refresh(ticket)
        if kind == DecisionKind.REQUEST_INFO and reason:
            self.surfaces.reply(ticket, render_info_request(ticket, user, reason))
        if ticket.canary is not None:  # a test request: a catch or a miss, said privately
            ticket = settle_canary(self.surfaces, ticket, user, kind, channel)
        return ticket

    def _record(self, ticket: Ticket, user: str, kind: DecisionKind, channel: str | None,
                **what: Any) -> Ticket | None:
        """The ledger's verdict on the decision; a refused one is explained to ``user``."""
        try:
            return self.ledger.record_decision(ticket.id, reviewer=user, kind=kind, **what)[0]
        except DeadlinePassed:
            self._expired(ticket, user, channel)
        except DuplicateApproval:
            self.surfaces.tell(user, channel, ALREADY_APPROVED_BY_YOU, ticket)
        except ChangedSinceSeen:
            self._changed(self.ledger.get_ticket(ticket.id), user, channel)
        except (AlreadyDecided, TransitionRefused):
            self._already_decided(self.ledger.get_ticket(ticket.id), user, channel)
        return None

    def _changed(self, current: Ticket, user: str, channel: str | None) -> None:
        """Refuse a click on an older view, and bring every view of the request up to date."""
        self.surfaces.refresh(current)
        self.surfaces.tell(user, channel, render_changed_since_seen(current)["text"], current)

    def _already_decided(self, current: Ticket, user: str, channel: str | None) -> None:
        """A late click: the card it came from was stale, so repair it, and say what won."""
        self.surfaces.refresh(current)
        self.surfaces.tell(user, channel, render_already_decided(current)["text"], current)

    def _expired(self, ticket: Ticket, user: str, channel: str | None) -> None:
        """A click after the deadline: refuse it, and show the card as it really is."""
        try:
            ticket = self.ledger.expire(ticket.id)
        except TransitionRefused:
            ticket = self.ledger.get_ticket(ticket.id)
        self.surfaces.refresh(ticket)
        self.surfaces.tell(user, channel, EXPIRED_CLICK, ticket)

    def recheck_edit(self, ticket: Ticket, user: str, args: dict[str, Any]
                     ) -> tuple[str | None, Reroute | None]:
        """Policy's view of edited arguments: a refusal text, or where they must go now."""
        outcome = self.policy.evaluate(Proposal(action=ticket.action, args=args,
                                                requested_by=ticket.requested_by,
                                                confidence=ticket.confidence))
        if outcome.decision == "deny":
            return edit_denied(outcome.policy_version, outcome.rule, outcome.reason), None
        if not _stricter(ticket, outcome):
            return None, None
        assert outcome.route is not None
        # Under the new route only its approvers count: the editor's authority from the old
        # route or the old chain's DM does not travel, and the new chain has DM'd nobody yet.
        probe = ticket.model_copy(update={"route": outcome.route})
        counts = self.authz.refusal(user, probe, DecisionKind.EDIT, oncall=False) is None
        return None, Reroute(route=outcome.route, tier=outcome.tier,
                             policy_rule=outcome.rule, counts=counts,
                             replan=self._replan(ticket, outcome))

    def _replan(self, ticket: Ticket, outcome: PolicyOutcome) -> Replan:
        """The new route's chain from now on (the database's clock, as at creation). Without
        a chain the deadline stays as it was; either way the old chain stops."""
        if outcome.chain is None:
            return Replan(ticket.expires_at, None, None)
        fixed = deadlines(self.config, outcome.chain, created_at=self.ledger.db_now(),
                          expire_after=outcome.expire_after)
        return Replan(fixed.expires_at, fixed.next_action_at, fixed.snapshot)


def _moved(before: Ticket, after: Ticket) -> bool:
    """Did an edit send a still-open request to a route reviewed in another channel?"""
    return after.status.is_open and after.route.channel != before.route.channel


def _stricter(ticket: Ticket, outcome: PolicyOutcome) -> bool:
    """Does policy want more for the edited arguments than the ticket already has?"""
    if outcome.route is None or outcome.decision != "require_approval":
        return False
    return (outcome.tier.rank > ticket.tier.rank
            or outcome.route.approvals_required > ticket.route.approvals_required
            or outcome.route.name != ticket.route.name)


__all__ = ["Reviews"]


def _log_failure(future: Future[Ticket | None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("a decision failed after its ack", exc_info=exc)
