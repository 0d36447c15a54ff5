"""Who the configuration in force now lets decide a ticket (the second half of the check in
:mod:`bot.slack.authz`; the first is the ticket's own snapshot).

An approver removed from ``signoff.yml``, or an on-call engineer removed from the chain, must
lose authority over requests opened before the change. Anything this cannot resolve (a route
or chain no longer configured, a policy error) authorises nobody: fail closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from escalation.chains import SCHEDULE_PREFIX
from escalation.config import SignoffConfig
from escalation.policy import Policy, Proposal
from store.errors import SignoffError
from store.models import Ticket


@dataclass(frozen=True)
class CurrentAuthority:
    config: SignoffConfig
    ticket: Ticket

    def approvers(self) -> tuple[str, ...]:
        """The ticket's route's approvers as configured now (user and user-group ids).

        When current policy still sends these arguments to the same route, its rule's own
        ``approvers:`` (if any) apply; otherwise the route's reviewers group.
        """
        t = self.ticket
        if t.route.name not in self.config.routes:
            return ()
        try:
            outcome = Policy(self.config).evaluate(Proposal(
                action=t.action, args=t.final_args, requested_by=t.requested_by,
                confidence=t.confidence))
            if outcome.route is not None and outcome.route.name == t.route.name:
                return outcome.route.approvers
            return self.config.route(t.route.name).approvers
        except (SignoffError, ValueError, TypeError):
            return ()

    def oncall(self) -> tuple[str, ...]:
        """Everyone the ticket's chain, as configured now, could DM: its levels' users and
        user groups, and every user of the schedules it names."""
        name = (self.ticket.escalation or {}).get("chain") or self.ticket.route.chain
        chain = self.config.chains.get(str(name)) if name else None
        if chain is None:
            return ()
        out: list[str] = []
        for level in chain.levels:
            for target in level.notify:
                schedule = target.removeprefix(SCHEDULE_PREFIX)
                if schedule == target:
                    out.append(target)
                elif schedule in self.config.schedules:
                    out += self.config.schedules[schedule].users()
        return tuple(out)
