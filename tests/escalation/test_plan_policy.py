"""Policy for plans: a denied step denies the plan; otherwise the strictest step decides the
route and tier, and the most approvals any step needs is what the plan needs."""

from __future__ import annotations

from pathlib import Path

from escalation.config import load_config
from escalation.plans import judge_plan, plan_edit_outcome
from escalation.policy import Policy
from store.models import PLAN_ACTION, PlanStep
from tests.render.render_checks import make_ticket

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "signoff.example.yml"
POLICY = Policy(load_config(EXAMPLE))


def steps(*pairs: tuple[str, dict[str, object]]) -> tuple[PlanStep, ...]:
    return tuple(PlanStep(index=i, action=a, args=dict(x)) for i, (a, x) in enumerate(pairs))


def test_one_denied_step_denies_the_plan_and_is_named() -> None:
    verdict = judge_plan(POLICY, steps(("search_orders", {}), ("drop_database", {}),
                                       ("issue_refund", {"amount": 5})), requested_by="U0X")
    assert verdict.outcome.decision == "deny" and verdict.denied_step is not None
    assert verdict.denied_step.index == 1 and verdict.outcome.reason == "never from an agent"


def test_the_strictest_step_sets_route_tier_and_approvals() -> None:
    verdict = judge_plan(POLICY, steps(("send_email", {"to": "a@b.c"}),
                                       ("issue_refund", {"amount": 5000}),
                                       ("search_orders", {})), requested_by="U0X")
    out = verdict.outcome
    assert out.decision == "require_approval" and out.route is not None
    assert out.route.name == "payments" and out.route.approvals_required == 2
    assert out.tier.value == "critical" and out.rule.startswith("plan:")
    assert out.review.value == "approval"  # one plan card, whatever each step's review type


def test_steps_policy_allows_make_an_allowed_plan() -> None:
    verdict = judge_plan(POLICY, steps(("search_orders", {}), ("search_x", {})),
                         requested_by="U0X")
    assert verdict.outcome.decision == "allow"


def test_a_plan_inside_a_plan_is_denied() -> None:
    verdict = judge_plan(POLICY, steps(("search_orders", {}), (PLAN_ACTION, {})),
                         requested_by="U0X")
    assert verdict.outcome.decision == "deny" and "cannot contain" in str(verdict.outcome.reason)


def test_an_edit_that_is_no_longer_a_plan_or_adds_a_denied_step_is_refused() -> None:
    ticket = make_ticket(action=PLAN_ACTION, args={"steps": [
        {"action": "search_orders", "args": {}}]})
    assert plan_edit_outcome(POLICY, ticket, {"steps": []}).decision == "deny"
    assert plan_edit_outcome(POLICY, ticket, {"steps": [{"action": "x"}]}).decision == "deny"
    denied = plan_edit_outcome(POLICY, ticket, {"steps": [
        {"action": "search_orders", "args": {}}, {"action": "drop_database", "args": {}}]})
    assert denied.decision == "deny" and "step 2 (drop_database)" in str(denied.reason)
