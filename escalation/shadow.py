"""Shadow policy: a candidate evaluated beside the live policy, deciding nothing.

Two ways to see a change before it is live, and both compare the same fields:
- ``policy_candidate:`` in ``signoff.yml`` is evaluated on every request as it arrives; where
  it disagrees with the live policy a ``shadow_disagreement`` audit event records both outcomes.
- ``signoff policy shadow-report --candidate FILE`` replays every recorded proposal (tickets
  and denials) through the live and the candidate configuration.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from escalation.config import SignoffConfig
from escalation.policy import Policy, PolicyOutcome, Proposal

EXAMPLES_PER_CHANGE = 3


def verdict(outcome: PolicyOutcome) -> dict[str, Any]:
    """The parts of an outcome that change what happens to a request."""
    route = outcome.route
    return {"decision": outcome.decision, "rule": outcome.rule, "tier": outcome.tier.value,
            "review": outcome.review.value,
            "route": route.name if route is not None else None,
            "approvals": route.approvals_required if route is not None else None,
            "policy_version": outcome.policy_version}


def change(live: dict[str, Any], candidate: dict[str, Any]) -> str | None:
    """``None`` when both would treat the request alike, else what differs, most severe
    first: the decision, else tier, route, approvals and review type."""
    if live["decision"] != candidate["decision"]:
        return f"{live['decision']} → {candidate['decision']}"
    if live["decision"] != "require_approval":
        return None
    parts = [f"{key} {live[key]} → {candidate[key]}"
             for key in ("tier", "route", "approvals", "review") if live[key] != candidate[key]]
    return ", ".join(parts) or None


def candidate_config(config: SignoffConfig) -> SignoffConfig | None:
    """The configuration with its ``policy_candidate`` in place of its policy, if it has one."""
    candidate = config.policy_candidate
    if candidate is None:
        return None
    return config.model_copy(update={"policy": candidate,
                                     "policy_version": candidate.policy_version,
                                     "policy_candidate": None})


class ShadowPolicy:
    """Evaluates a candidate next to the live outcome; never raises into the request path."""

    def __init__(self, candidate: SignoffConfig) -> None:
        self.policy = Policy(candidate)

    @classmethod
    def of(cls, config: SignoffConfig) -> ShadowPolicy | None:
        candidate = candidate_config(config)
        return cls(candidate) if candidate is not None else None

    def disagreement(self, proposal: Proposal, live: PolicyOutcome) -> dict[str, Any] | None:
        """The audit data of a disagreement (both verdicts and the change), or ``None``."""
        shadow = verdict(self.policy.evaluate(proposal))
        current = verdict(live)
        what = change(current, shadow)
        if what is None:
            return None
        return {"action": proposal.action, "args": proposal.args,
                "requested_by": proposal.requested_by, "live": current, "candidate": shadow,
                "change": what}


@dataclass
class ActionReport:
    action: str
    compared: int = 0
    changes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, what: str, example: dict[str, Any]) -> None:
        self.changes[what] += 1
        if len(self.examples[what]) < EXAMPLES_PER_CHANGE:
            self.examples[what].append(example)

    @property
    def disagreements(self) -> int:
        return sum(self.changes.values())

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "compared": self.compared,
                "disagreements": self.disagreements, "changes": dict(self.changes),
                "examples": {k: v for k, v in self.examples.items()}}


@dataclass(frozen=True)
class Compared:
    """One proposal and what each policy would do with it."""

    action: str
    ticket_id: str | None
    args: dict[str, Any]
    live: dict[str, Any]
    candidate: dict[str, Any]


def replay(live: SignoffConfig, candidate: SignoffConfig,
           proposals: Iterable[Proposal | tuple[Proposal, str | None]]) -> list[Compared]:
    """Evaluate each proposal (optionally with its ticket id) under both configurations."""
    now, then = Policy(live), Policy(candidate)
    out = []
    for item in proposals:
        proposal, ticket_id = item if isinstance(item, tuple) else (item, None)
        out.append(Compared(proposal.action, ticket_id, proposal.args,
                            verdict(now.evaluate(proposal)), verdict(then.evaluate(proposal))))
    return out


def summarise(compared: Iterable[Compared]) -> list[ActionReport]:
    """Per action: how many were compared, and each kind of disagreement with examples.
    Actions with disagreements come first, the most disagreeing first."""
    reports: dict[str, ActionReport] = {}
    for item in compared:
        report = reports.setdefault(item.action, ActionReport(item.action))
        report.compared += 1
        what = change(item.live, item.candidate)
        if what is not None:
            report.add(what, {"ticket": item.ticket_id, "args": item.args,
                              "live_rule": item.live["rule"],
                              "candidate_rule": item.candidate["rule"]})
    return sorted(reports.values(), key=lambda r: (-r.disagreements, r.action))


def from_events(events: Iterable[dict[str, Any]]) -> list[Compared]:
    """Disagreements recorded live (``shadow_disagreement`` audit data) as comparisons."""
    return [Compared(e["action"], e.get("ticket"), e.get("args") or {}, e["live"],
                     e["candidate"]) for e in events]
