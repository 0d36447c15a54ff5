"""Canary injection: test requests that must be rejected, shown to a route's reviewers as
ordinary cards at the configured rate (``canaries:`` in signoff.yml).

The sweep runs :meth:`CanaryInjector.tick` after each escalation tick. Every real request
sent to review on a route with canaries is drawn for exactly once (the ledger hands each
one to a single sweeper); with probability ``rate`` a canary follows it. The canary gets the
policy tier, review type and rule its action would get, the route's own chain, and the
argument schema the agent last sent for that action, so its card, edit form, reminders and
DMs look like any other. The ledger keeps it from every agent and
executor (see :mod:`store.canaries`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from escalation.config import SignoffConfig
from escalation.deadlines import deadlines
from escalation.engine import EscalationEngine, TickReport
from escalation.policy import Policy, Proposal
from escalation.quality import CanaryRequest
from escalation.sweep_store import SweepLedger
from store.canaries import Draw
from store.errors import StoreError
from store.models import Evidence, NewTicket, Ticket, TicketStatus
from store.tickets import Draft

log = logging.getLogger("signoff.canaries")


class CanaryLedger(Protocol):
    """What the injector needs of the ledger (:class:`store.canaries.CanaryStore`)."""

    def take_undrawn(self, routes: list[str], *, since: datetime,
                     limit: int = 200) -> list[Draw]: ...
    def latest_args_schema(self, action: str) -> dict[str, Any] | None: ...
    def create_canary(self, draft: Draft, *, name: str, lesson: str) -> Ticket: ...


class CardPoster(Protocol):
    """Posts a ticket's review card to its route's channel and records it."""

    def post_card(self, ticket: Ticket) -> Ticket: ...


class Random(Protocol):
    def random(self) -> float: ...
    def choice(self, seq: Sequence[CanaryRequest]) -> CanaryRequest: ...


@dataclass
class CanaryInjector:
    ledger: CanaryLedger
    config: SignoffConfig
    poster: CardPoster
    rng: Random = field(default_factory=random.SystemRandom)
    lookback: timedelta = timedelta(days=1)
    """Only requests this recent are drawn for (a route given canaries later does not
    receive a burst for its history)."""
    batch: int = 200
    max_batches: int = 50

    def tick(self, at: datetime) -> list[Ticket]:
        """Draw for every new real request; inject and post the canaries drawn."""
        routes = sorted(self.config.canaries)
        injected: list[Ticket] = []
        for _ in range(self.max_batches):
            draws = self.ledger.take_undrawn(routes, since=at - self.lookback, limit=self.batch)
            for draw in draws:
                spec = self.config.canaries[draw.route]
                if self.rng.random() < spec.rate:
                    canary = self.inject(draw.route, self.rng.choice(spec.requests))
                    injected += [canary] if canary is not None else []
            if len(draws) < self.batch:
                break
        return injected

    def inject(self, route_name: str, request: CanaryRequest) -> Ticket | None:
        """Open the canary on ``route_name`` and post its card. A canary policy would not
        send to review is skipped (logged): its card would give it away."""
        outcome = Policy(self.config).evaluate(_proposal(request))
        if outcome.decision != "require_approval":
            log.error("canary %s skipped: policy says %s (%s), not require_approval",
                      request.name, outcome.decision, outcome.rule)
            return None
        route = self.config.route(route_name)
        schema = self.ledger.latest_args_schema(request.action)  # the same edit form

        def draft(created_at: datetime) -> NewTicket:
            plan = deadlines(self.config, route.chain, created_at=created_at,
                             expire_after=outcome.expire_after)
            return NewTicket(
                action=request.action, args=request.args, review_type=outcome.review,
                summary=request.summary, reason=request.reason,
                evidence=tuple(Evidence.model_validate(e) for e in request.evidence),
                confidence=request.confidence, requested_by=request.requested_by,
                agent=request.agent, tier=outcome.tier, route=route,
                policy_version=outcome.policy_version, policy_rule=outcome.rule,
                status=TicketStatus.PENDING, expires_at=plan.expires_at,
                next_action_at=plan.next_action_at, escalation=plan.snapshot,
                args_schema=schema)

        ticket = self.ledger.create_canary(draft, name=request.name, lesson=request.lesson)
        log.info("canary %s injected on route %s", request.name, route_name)
        return self.poster.post_card(ticket)


def _proposal(request: CanaryRequest) -> Proposal:
    return Proposal(action=request.action, args=request.args,
                    requested_by=request.requested_by, confidence=request.confidence)


def canary_problems(config: SignoffConfig) -> list[str]:
    """Canaries that would give themselves away: policy would not send them to review."""
    policy = Policy(config)
    out = []
    for route, spec in config.canaries.items():
        for request in spec.requests:
            outcome = policy.evaluate(_proposal(request))
            if outcome.decision != "require_approval":
                out.append(f"canaries.{route}: {request.name!r} ({request.action}) would be "
                           f"{outcome.decision!r} by {outcome.rule}; a canary must be a request "
                           "policy sends to review, or its card gives it away")
    return out


@dataclass
class SweepWithCanaries:
    """The escalation sweep, then the canary draw (what each scheduler tick runs)."""

    engine: EscalationEngine
    canaries: CanaryInjector

    @property
    def store(self) -> SweepLedger:
        return self.engine.store

    def tick(self, at: datetime) -> TickReport:
        report = self.engine.tick(at)
        try:
            self.canaries.tick(at)
        except StoreError:
            log.exception("canary draw failed; retrying at the next tick")
        return report


__all__ = ["CanaryInjector", "CanaryLedger", "CardPoster", "SweepWithCanaries", "canary_problems"]
