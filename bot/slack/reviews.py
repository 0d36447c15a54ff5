"""Review: turning a reviewer's click or modal into a ledger decision, and telling people."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.render import render_already_decided, render_changed_since_seen, render_info_request
from bot.render.clicks import render_click_too_old
from bot.render.delegation import delegation_ended, same_person_twice
from bot.render.refusals import (
    ALREADY_APPROVED_BY_YOU,
    EXPIRED_CLICK,
    NO_SUCH_REQUEST,
    edit_denied,
)
from bot.slack.authz import Authorizer
from bot.slack.canary import settle_canary
from bot.slack.grant_checks import announce_grants, refusal_to_grant
from bot.slack.refresher import Refresher
from bot.slack.surfaces import Surfaces
from escalation.config import SignoffConfig
from escalation.deadlines import deadlines
from escalation.plans import plan_edit_outcome
from escalation.policy import Policy, PolicyOutcome, Proposal, recorded_annotations
from store.decisions import Capacity, Replan, Reroute
from store.errors import (
    AlreadyDecided,
    ChangedSinceSeen,
    ClickSettled,
    ClickTooOld,
    DeadlinePassed,
    DelegationEnded,
    DuplicateApproval,
    GrantNotAllowed,
    TicketNotFound,
    TransitionRefused,
)
from store.grants import GrantSpec
from store.inbox import CLICK_MAX_AGE, Click
from store.ledger import Ledger
from store.models import PLAN_ACTION, DecisionKind, Ticket

log = logging.getLogger(__name__)
NOT_ALLOWED_HERE = "Break-glass is not available here, so nothing was recorded."

#: Decision workers by database: SQLite has one writer at a time, so more workers only
#: queue on its lock; PostgreSQL decides unrelated tickets in parallel (each decision locks
#: its own ticket row), up to what the ledger's connection pool holds.
DECISION_WORKERS = {"sqlite": 2, "postgresql": 8}
#: Slack refreshes after decisions (``chat.update``), on their own threads.
REFRESH_WORKERS = 8


def decision_workers(dialect: str) -> int:
    """How many decisions ``dialect``'s database can usefully run at once."""
    return DECISION_WORKERS.get(dialect, 2)


@dataclass
class Reviews:
    ledger: Ledger
    config: SignoffConfig
    authz: Authorizer
    surfaces: Surfaces
    pool: Executor
    """Where decisions run after the ack (the composition root gives the ack-first pool)."""
    click_max_age: timedelta = CLICK_MAX_AGE
    """A click not recorded within this long of its receipt does not count."""
    refresher: Refresher | None = None
    """Where the card refresh after a decision runs (off the decision pool); None: inline."""
    glass: Any = None
    """Decides break-glass clicks (:class:`bot.slack.breakglass.BreakGlassDesk`)."""
    batches: Any = None
    """Decides batch clicks ("Approve all", "Reject all"): a ``BatchReviews``."""

    def decide_later(self, *args: Any, **kwargs: Any) -> Future[Ticket | None]:
        """:meth:`decide` on the decision pool, so the handler's thread is free at once."""
        future = self.pool.submit(self.decide, *args, **kwargs)
        future.add_done_callback(_log_failure)
        return future

    @property
    def policy(self) -> Policy:
        return Policy(self.config)

    def start(self, user: str, ticket_id: str, kind: DecisionKind, *, channel: str | None,
              seen: int | None, authorise: bool = True) -> Ticket | None:
        """The ticket, when ``user`` may start this decision from a view of version ``seen``
        (checked before a modal opens, so nobody types a reason that cannot count); else
        None, and ``user`` has been told why."""
        try:
            ticket = self.ledger.get_ticket(ticket_id)
        except TicketNotFound:
            self.surfaces.tell(user, channel, NO_SUCH_REQUEST)
            return None
        if not ticket.status.is_open:
            self._already_decided(ticket, _Teller(self, user, channel, None))
            return None
        refusal = self.authz.refusal(user, ticket, kind) if authorise else None
        if refusal is not None:
            self.surfaces.tell(user, channel, refusal, ticket)
            return None
        if seen != ticket.version:
            self._changed(ticket, _Teller(self, user, channel, None))
            return None
        return ticket

    def decide(self, ticket_id: str, user: str, kind: DecisionKind, *, channel: str | None,
               seen: int | None, reason: str | None = None,
               args: dict[str, Any] | None = None,
               reroute: Reroute | None = None, click: Click | None = None,
               grant: GrantSpec | None = None) -> Ticket | None:
        """Record the decision made on version ``seen`` of the ticket and update the card;
        refusals go to ``user`` privately. A decision on an older version than the ticket's
        binds something the reviewer never saw: it is refused, and the card refreshed.

        ``click`` is the inbox row the decision comes from: it ends with the decision (same
        transaction) or with the message that says why it did not count. ``grant``: the
        approval also makes a standing grant (both are recorded, or neither).
        """
        said = _Teller(self, user, channel, click)
        try:
            before = self.ledger.get_ticket(ticket_id)
        except TicketNotFound:
            said(NO_SUCH_REQUEST)
            return None
        capacity = self.authz.standing(user, before, kind)
        if isinstance(capacity, str):
            said(capacity, before)
            return None
        if before.status.is_open and seen != before.version:
            self._changed(before, said)
            return None
        if reroute is not None and reroute.counts:  # it counts under the new route's terms
            # Both authorities must still stand when it is recorded: the old route's (to
            # edit at all) and the new route's (for the approval to count).
            capacity = Capacity(on_behalf_of=reroute.on_behalf_of,
                                identities=capacity.identities,
                                delegations=capacity.delegations | reroute.delegations)
        if grant is not None:
            refused = refusal_to_grant(self.config, self.authz, user, before)
            if refused is not None:
                said(refused, before)
                return None
        ticket = self._record(before, user, kind, said, reason=reason, args=args,
                              reroute=reroute, expected_version=seen, capacity=capacity,
                              grant=grant)
        if ticket is None:
            return None
        if grant is not None:
            announce_grants(self.surfaces, ticket)
        if kind == DecisionKind.REQUEST_INFO and reason:
            # The question first: the agent may answer before the card is re-rendered.
            self.surfaces.reply(ticket, render_info_request(ticket, user, reason))
        if reroute is not None and _moved(before, ticket):
            ticket = self.surfaces.move(ticket, before.card, user)
        elif self.refresher is not None:
            self.refresher.submit(ticket)
        else:
            self.surfaces.refresh(ticket)
        if ticket.canary is not None:  # a test request: a catch or a miss, said privately
            ticket = settle_canary(self.surfaces, ticket, user, kind, channel)
        return ticket

    def decide_click(self, click: Click) -> Ticket | None:
        """:meth:`decide` for a click from the inbox (an edit is re-checked by policy now)."""
        if self.batches is not None and self.batches.is_batch(click):
            self.batches.decide_click(click)
            return None
        said = _Teller(self, click.user, click.channel, click)
        if click.kind == DecisionKind.BREAK_GLASS:
            if self.glass is None:  # never offered here: nothing to decide it with
                said(NOT_ALLOWED_HERE)
                return None
            result: Ticket | None = self.glass.decide(click)
            return result
        reroute = None
        if click.kind == DecisionKind.EDIT and click.args is not None:
            try:
                ticket = self.ledger.get_ticket(click.ticket_id)
            except TicketNotFound:
                said(NO_SUCH_REQUEST)
                return None
            refusal, reroute = self.recheck_edit(ticket, click.user, click.args)
            if refusal is not None:
                said(refusal, ticket)
                return None
        grant = GrantSpec(**click.grant_spec) if click.grant_spec is not None else None
        return self.decide(click.ticket_id, click.user, click.kind, channel=click.channel,
                           seen=click.shown_version, reason=click.reason, args=click.args,
                           reroute=reroute, click=click, grant=grant)

    def _record(self, ticket: Ticket, user: str, kind: DecisionKind, said: _Teller,
                **what: Any) -> Ticket | None:
        """The ledger's verdict on the decision; a refused one is explained to ``user``."""
        click = said.click
        try:
            return self.ledger.record_decision(
                ticket.id, reviewer=user, kind=kind, click_id=click.id if click else None,
                click_max_age=self.click_max_age, **what)[0]
        except DeadlinePassed:
            self._expired(ticket, said)
        except DelegationEnded:  # revoked or ended since the click was authorised
            lent: Capacity | None = what.get("capacity")
            said(delegation_ended(lent.on_behalf_of if lent else None), ticket)
        except DuplicateApproval as exc:
            capacity: Capacity | None = what.get("capacity")
            linked = capacity is not None and user not in self.ledger.get_ticket(
                ticket.id).approvals
            said(same_person_twice(_first_linked(exc, capacity, user))
                 if linked and capacity is not None
                 else ALREADY_APPROVED_BY_YOU, ticket)
        except ChangedSinceSeen:
            self._changed(self.ledger.get_ticket(ticket.id), said)
        except (AlreadyDecided, TransitionRefused):
            self._already_decided(self.ledger.get_ticket(ticket.id), said)
        except ClickTooOld as exc:
            said(render_click_too_old(kind, exc.max_age), ticket)
        except GrantNotAllowed as exc:
            said(f"Nothing was recorded: {exc.why}.", ticket)
        except ClickSettled:
            log.info("click %s was already handled", click.id if click else "-")
        return None

    def _changed(self, current: Ticket, said: _Teller) -> None:
        """Refuse a click on an older view, and bring every view of the request up to date."""
        self.surfaces.refresh(current)
        said(render_changed_since_seen(current)["text"], current)

    def _already_decided(self, current: Ticket, said: _Teller) -> None:
        """A late click: the card it came from was stale, so repair it, and say what won."""
        self.surfaces.refresh(current)
        said(render_already_decided(current)["text"], current)

    def _expired(self, ticket: Ticket, said: _Teller) -> None:
        """A click after the deadline: refuse it, and show the card as it really is."""
        try:
            ticket = self.ledger.expire(ticket.id)
        except TransitionRefused:
            ticket = self.ledger.get_ticket(ticket.id)
        self.surfaces.refresh(ticket)
        said(EXPIRED_CLICK, ticket)

    def recheck_edit(self, ticket: Ticket, user: str, args: dict[str, Any]
                     ) -> tuple[str | None, Reroute | None]:
        """Policy's view of edited arguments: a refusal text, or where they must go now."""
        outcome = (plan_edit_outcome(self.policy, ticket, args) if ticket.action == PLAN_ACTION
                   else self.policy.evaluate(Proposal(
                       action=ticket.action, args=args, requested_by=ticket.requested_by,
                       confidence=ticket.confidence,
                       annotations=recorded_annotations(ticket.args_schema))))
        if outcome.decision == "deny":
            return edit_denied(outcome.policy_version, outcome.rule, outcome.reason), None
        if not _stricter(ticket, outcome):
            return None, None
        assert outcome.route is not None
        # Under the new route only its approvers count: the editor's authority from the old
        # route or the old chain's DM does not travel, and the new chain has DM'd nobody yet.
        probe = ticket.model_copy(update={"route": outcome.route, "final_args": args})
        standing = self.authz.standing(user, probe, DecisionKind.EDIT, oncall=False)
        counts = not isinstance(standing, str)
        return None, Reroute(route=outcome.route, tier=outcome.tier,
                             policy_rule=outcome.rule, counts=counts,
                             on_behalf_of=None if isinstance(standing, str)
                             else standing.on_behalf_of,
                             delegations=frozenset() if isinstance(standing, str)
                             else standing.delegations,
                             replan=self._replan(ticket, outcome))

    def _replan(self, ticket: Ticket, outcome: PolicyOutcome) -> Replan:
        """The new route's chain from now on (the database's clock, as at creation). Without
        a chain the deadline stays as it was; either way the old chain stops."""
        if outcome.chain is None:
            return Replan(ticket.expires_at, None, None)
        fixed = deadlines(self.config, outcome.chain, created_at=self.ledger.db_now(),
                          expire_after=outcome.expire_after)
        return Replan(fixed.expires_at, fixed.next_action_at, fixed.snapshot)


class NotTold(Exception):
    """Slack took neither the ephemeral message nor the ``response_url`` post: the click
    stays pending, to be told on a later attempt."""


@dataclass
class _Teller:
    """Says why a decision did not count, and ends its click (if any) as ``told``."""

    reviews: Reviews
    user: str
    channel: str | None
    click: Click | None

    def __call__(self, text: str, ticket: Ticket | None = None) -> None:
        surfaces = self.reviews.surfaces
        if self.click is None:
            surfaces.tell(self.user, self.channel, text, ticket)
            return
        if not surfaces.tell_clicker(self.user, self.channel, self.click.response_url, text,
                                     ticket):
            raise NotTold(f"could not tell {self.user} about click {self.click.id}")
        self.reviews.ledger.tell_click(self.click.id, text)


def _first_linked(exc: DuplicateApproval, capacity: Capacity, user: str) -> str:
    """The approver a delegation made the clicker one person with (named in the refusal;
    the ledger's own count, which also knows a delegation made after the click)."""
    if exc.counted_with is not None and exc.counted_with != user:
        return exc.counted_with
    others = sorted(capacity.identities - {user})
    return next((o for o in others if o in str(exc)), others[0] if others else "someone")


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


__all__ = ["NotTold", "Reviews"]


def _log_failure(future: Future[Ticket | None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("a decision failed after its ack", exc_info=exc)
