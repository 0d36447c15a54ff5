"""Break-glass policy and its sweep.

:func:`terms_for` says whether policy, as configured now, lets a ticket be broken: the rule
that wins for its current arguments must decide ``require_approval`` on the ticket's own
route and allow ``break_glass``. Anything else (the action is denied now, allowed, moved to
another route, the rule no longer allows it) refuses: fail closed.

:class:`UnwitnessedSweep` runs in every sweep tick: a break-glass nobody witnessed by its
deadline is escalated along its route's chain as an unwitnessed override, one level at a
time (the first at the deadline, each next one its own ``after`` later), until a witness
acknowledges it. Each level is recorded before its DMs go out (at most once on any number
of replicas); a level whose DMs fail is audited, not retried.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from escalation.breakglass_config import DEFAULT_WITNESS_WITHIN, RuleBreakGlass
from escalation.chains import resolve_targets
from escalation.config import SignoffConfig
from escalation.engine import TickReport
from escalation.policy import Policy, Proposal, recorded_annotations
from escalation.sweep_store import SweepLedger
from store.breakglass import BreakGlass, BreakGlassTerms
from store.errors import SignoffError, StoreError
from store.models import Ticket, is_user_group

log = logging.getLogger("signoff.escalation")


@dataclass(frozen=True)
class Allowed:
    """Break-glass is allowed on a ticket: the terms, who may do it, where it is posted."""

    terms: BreakGlassTerms
    responders: tuple[str, ...] | None
    """User and user-group ids who may break glass; None: whoever may approve it."""
    security_channel: str


def rule_setting(config: SignoffConfig, rule_name: str) -> RuleBreakGlass | None:
    for name, rule in zip(config.policy.rule_names(), config.policy.rules, strict=True):
        if name == rule_name:
            return rule.break_glass
    return None


def terms_for(config: SignoffConfig, ticket: Ticket) -> Allowed | None:
    """What break-glass on ``ticket`` would be under the configuration in force now, or
    None when it is not allowed (see the module's docstring)."""
    section = config.break_glass
    # A canary is offered break-glass like the real requests of its rule (its card must not
    # differ from theirs); the bot settles a break-glass on one as a miss, and nothing runs.
    if section is None or not ticket.status.is_open:
        return None
    try:
        outcome = Policy(config).evaluate(Proposal(
            action=ticket.action, args=ticket.final_args, requested_by=ticket.requested_by,
            confidence=ticket.confidence, annotations=recorded_annotations(ticket.args_schema)))
    except (SignoffError, ValueError, TypeError):
        return None
    if outcome.decision != "require_approval" or outcome.route is None \
            or outcome.route.name != ticket.route.name:
        return None
    setting = rule_setting(config, outcome.rule)
    if setting is None:
        return None
    group = setting.responders or section.responders
    within = setting.witness_within or section.witness_within or DEFAULT_WITNESS_WITHIN
    terms = BreakGlassTerms(rule=outcome.rule, witness_within=within,
                            allow_self=setting.allow_self,
                            policy_version=outcome.policy_version)
    return Allowed(terms, config.group(group) if group else None, section.security_channel)


def witnesses(config: SignoffConfig, ticket: Ticket) -> tuple[str, ...]:
    """Who may witness a break-glass on ``ticket`` (users and user groups): its route's
    approvers, everyone its chain can DM, and the break-glass responders, as configured
    now. The responder and the requester are excluded by the caller."""
    out: list[str] = []
    if ticket.route.name in config.routes:
        out += config.route(ticket.route.name).approvers
    chain = config.chains.get(ticket.route.chain or "")
    for level in chain.levels if chain else ():
        out += [t for t in level.notify if not t.startswith("schedule:")]
        for target in level.notify:
            name = target.removeprefix("schedule:")
            if name != target and name in config.schedules:
                out += config.schedules[name].users()
    setting = rule_setting(config, ticket.policy_rule or "")
    section = config.break_glass
    group = (setting.responders if setting else None) or (section.responders if section
                                                           else None)
    if group and group in config.reviewers:
        out += config.reviewers[group]
    return tuple(dict.fromkeys(out))


class UnwitnessedLedger(Protocol):
    def due_unwitnessed(self, at: datetime, *, limit: int = 50) -> list[BreakGlass]: ...
    def escalate_unwitnessed(self, ticket_id: str, *, level: int, next_at: datetime | None,
                             targets: list[str], actor: str = "signoff"
                             ) -> tuple[Ticket, BreakGlass] | None: ...
    def get_ticket(self, ticket_id: str, *, for_agent: bool = False) -> Ticket: ...
    def record_event(self, ticket_id: str | None, kind: str, *, actor: str = "signoff",
                     **data: object) -> object: ...


class UnwitnessedNotifier(Protocol):
    """Slack, as the unwitnessed sweep sees it."""

    def resolve_group(self, group_id: str) -> Sequence[str]: ...

    def unwitnessed(self, ticket: Ticket, record: BreakGlass, level: int,
                    users: Sequence[str]) -> list[tuple[str, str]]:
        """DM each user that the break-glass is unwitnessed (with a Witness button) and say
        so in the security channel; returns ``(user, error)`` for each DM that failed."""
        ...


@dataclass
class UnwitnessedSweep:
    ledger: UnwitnessedLedger
    config: SignoffConfig
    notifier: UnwitnessedNotifier

    def tick(self, at: datetime) -> int:
        """Escalate every unwitnessed break-glass due at ``at``; returns levels reached."""
        reached = 0
        for record in self.ledger.due_unwitnessed(at):
            try:
                reached += self._escalate(record, at)
            except SignoffError:  # one record's trouble (a database error, a schedule
                # removed from the config) must not hold up the others
                log.exception("unwitnessed break-glass on %s not escalated", record.ticket_id)
        return reached

    def _escalate(self, record: BreakGlass, at: datetime) -> int:
        ticket = self.ledger.get_ticket(record.ticket_id)
        levels = self._levels(ticket)
        level = record.escalation_level + 1
        notify, next_at = self._plan(levels, level, record, at)
        users = self._users(notify, at, exclude={record.responder})
        done = self.ledger.escalate_unwitnessed(ticket.id, level=level, next_at=next_at,
                                                targets=list(users))
        if done is None:
            return 0  # another sweeper took it, or it was witnessed meanwhile
        for user, error in self.notifier.unwitnessed(done[0], done[1], level, users):
            self.ledger.record_event(ticket.id, "delivery_failed", target=user, error=error,
                                     role="break_glass_unwitnessed", level=level)
        return 1

    def _levels(self, ticket: Ticket) -> list[tuple[tuple[str, ...], timedelta]]:
        """The chain's levels as (who, after); without any, the route's approvers at once."""
        chain = self.config.chains.get(ticket.route.chain or "")
        if chain is not None and chain.levels:
            return [(lvl.notify, lvl.after) for lvl in chain.levels]
        return [(ticket.route.approvers, timedelta(0))]

    @staticmethod
    def _plan(levels: list[tuple[tuple[str, ...], timedelta]], level: int,
              record: BreakGlass, at: datetime) -> tuple[tuple[str, ...], datetime | None]:
        if level > len(levels):  # past the end: tell the last level again, then stop
            return levels[-1][0], None
        base = record.next_escalation_at or at
        next_at = base + levels[level][1] if level < len(levels) else None
        return levels[level - 1][0], next_at

    def _users(self, notify: Sequence[str], at: datetime, *, exclude: set[str]
               ) -> tuple[str, ...]:
        users: list[str] = []
        for target in resolve_targets(notify, at, self.config.schedules)[0]:
            if is_user_group(target):
                users += self.notifier.resolve_group(target)
            else:
                users.append(target)
        return tuple(u for u in dict.fromkeys(users) if u not in exclude)


class Tick(Protocol):
    @property
    def store(self) -> SweepLedger: ...
    def tick(self, at: datetime) -> TickReport: ...


@dataclass
class SweepWithBreakGlass:
    """The sweep (and any canary draw), then unwitnessed break-glass escalation."""

    inner: Tick
    unwitnessed: UnwitnessedSweep

    @property
    def store(self) -> SweepLedger:
        return self.inner.store

    def tick(self, at: datetime) -> TickReport:
        report = self.inner.tick(at)
        try:
            report.escalations += self.unwitnessed.tick(at)
        except StoreError:
            log.exception("unwitnessed break-glass sweep failed; retrying at the next tick")
        return report
