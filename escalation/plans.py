"""Policy for a plan: every step is judged as if it were asked alone, and the plan gets the
strictest answer.

- Any step policy denies denies the whole plan (before anything is stored or posted).
- Otherwise, if any step needs a human, the plan is reviewed on the route of its strictest
  step (most approvals, then highest tier), with the most approvals any step needs (two
  people if any step needs two) and the highest tier of all its steps.
- A plan of steps policy allows outright is allowed as a whole: no card; its steps still run
  only in order, each once, under the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from escalation.policy import Policy, PolicyOutcome, Proposal
from store.models import PLAN_ACTION, PlanStep, ReviewType, Ticket, plan_steps

PLAN_RULE_PREFIX = "plan:"


@dataclass(frozen=True)
class PlanVerdict:
    outcome: PolicyOutcome
    """What the plan as a whole gets (its rule names the deciding step's rule)."""
    steps: tuple[tuple[PlanStep, PolicyOutcome], ...]
    denied_step: PlanStep | None = None
    """The first step policy denies (then ``outcome`` is that step's deny)."""


def judge_plan(policy: Policy, steps: tuple[PlanStep, ...], *, requested_by: str,
               confidence: float | None = None) -> PlanVerdict:
    judged = tuple((step, policy.evaluate(Proposal(
        action=step.action, args=step.args, requested_by=requested_by,
        confidence=confidence))) for step in steps)
    for step, outcome in judged:
        if step.action == PLAN_ACTION:
            return PlanVerdict(outcome.model_copy(update={
                "decision": "deny", "rule": f"{PLAN_RULE_PREFIX}nested",
                "reason": "a plan cannot contain a plan"}), judged, step)
        if outcome.decision == "deny":
            return PlanVerdict(outcome, judged, step)
    return PlanVerdict(_strictest(judged), judged)


def judge_plan_args(policy: Policy, args: dict[str, Any], *, requested_by: str,
                    confidence: float | None = None) -> PlanVerdict:
    """:func:`judge_plan` of a plan ticket's arguments (``ValueError`` if they are not one)."""
    return judge_plan(policy, plan_steps(args), requested_by=requested_by,
                      confidence=confidence)


def plan_edit_outcome(policy: Policy, ticket: Ticket, args: dict[str, Any]) -> PolicyOutcome:
    """Policy's view of a reviewer's edit of a plan: the plan judged again, step by step
    (a denied step, or arguments that are no longer a plan, deny the edit)."""
    try:
        verdict = judge_plan_args(policy, args, requested_by=ticket.requested_by,
                                  confidence=ticket.confidence)
    except ValueError as exc:
        return PolicyOutcome(decision="deny", rule=f"{PLAN_RULE_PREFIX}malformed", matched=(),
                             reason=str(exc), policy_version=policy.config.policy_version)
    step = verdict.denied_step
    if step is None:
        return verdict.outcome
    return verdict.outcome.model_copy(update={
        "reason": f"step {step.index + 1} ({step.action}): "
                  f"{verdict.outcome.reason or 'policy denies it'}"})


def _strictest(judged: tuple[tuple[PlanStep, PolicyOutcome], ...]) -> PolicyOutcome:
    outcomes = [o for _s, o in judged]
    tier = max((o.tier for o in outcomes), key=lambda t: t.rank)
    reviewed = [o for o in outcomes if o.decision == "require_approval" and o.route]
    if not reviewed:
        return outcomes[0].model_copy(update={
            "rule": f"{PLAN_RULE_PREFIX}{outcomes[0].rule}", "tier": tier,
            "review": ReviewType.APPROVAL,
            "matched": tuple(r for o in outcomes for r in o.matched)})
    chosen = max(reviewed, key=lambda o: (o.route.approvals_required if o.route else 0,
                                          o.tier.rank))
    assert chosen.route is not None
    approvals = max(o.route.approvals_required for o in reviewed if o.route)
    return chosen.model_copy(update={
        "rule": f"{PLAN_RULE_PREFIX}{chosen.rule}", "tier": tier,
        "review": ReviewType.APPROVAL,
        "route": chosen.route.model_copy(update={"approvals_required": approvals}),
        "matched": tuple(r for o in outcomes for r in o.matched)})


__all__ = ["PLAN_RULE_PREFIX", "PlanVerdict", "judge_plan", "judge_plan_args", "plan_edit_outcome"]
