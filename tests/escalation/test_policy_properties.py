"""Properties of rule combination over random rule lists."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.config import SignoffConfig
from escalation.policy import Policy, PolicyOutcome, Proposal

ACTIONS = ["pay", "pay_fast", "read", "drop_all", "x1"]
PATTERNS = ["*", "pay*", "pay", "read", "drop_*", "x?", "nothing"]
# Rules are named r0, r1, ... before any reordering, so a rule keeps its name wherever it moves.


@st.composite
def rules(draw: st.DrawFn, decide: str | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "action": draw(st.sampled_from(PATTERNS)),
        "decide": decide or draw(st.sampled_from(["allow", "require_approval", "deny"])),
    }
    if draw(st.integers(0, 3)) == 0:  # conditions are rarer, so more rules overlap
        rule["when"] = {"n": {draw(st.sampled_from(["gt", "lt", "eq"])): draw(st.integers(0, 9))}}
    if draw(st.integers(0, 3)) == 0:
        rule["confidence_below"] = draw(st.sampled_from([0.3, 0.5, 0.9]))
    if draw(st.booleans()):
        rule["tier"] = draw(st.sampled_from(["low", "medium", "high", "critical"]))
    if rule["decide"] == "require_approval" and draw(st.booleans()):
        rule["route"] = "other"
    return rule


proposals = st.builds(
    Proposal,
    action=st.sampled_from(ACTIONS),
    args=st.fixed_dictionaries({}, optional={"n": st.integers(0, 9)}),
    requested_by=st.just("U0AGENT"),
    confidence=st.none() | st.floats(0, 1),
)


def policy(rule_list: list[dict[str, Any]], default: str = "require_approval") -> Policy:
    named = [{**rule, "name": rule.get("name", f"r{i}")} for i, rule in enumerate(rule_list)]
    config = SignoffConfig.model_validate({
        "version": 1,
        "policy_version": "prop",
        "reviewers": {"ops": ["U0OPS"]},
        "routes": {"default": {"channel": "C0A", "approvers": "ops", "chain": "c"},
                   "other": {"channel": "C0B", "approvers": "ops", "chain": "c"}},
        "chains": {"c": {"expire_after": "1h"}},
        "policy": {"default": default, "rules": named},
    })
    return Policy(config)


def essence(outcome: PolicyOutcome) -> tuple[Any, ...]:
    return outcome.decision, outcome.rule, outcome.tier, outcome.review, outcome.route


@settings(max_examples=150, deadline=None)
@given(rule_list=st.lists(rules(), max_size=6), extra=rules(decide="allow"),
       position=st.integers(0, 6), default=st.sampled_from(["require_approval", "deny"]),
       proposal=proposals)
def test_adding_an_allow_rule_never_loosens_a_decision(
    rule_list: list[dict[str, Any]], extra: dict[str, Any], position: int, default: str,
    proposal: Proposal,
) -> None:
    rule_list = [{**rule, "name": f"r{i}"} for i, rule in enumerate(rule_list)]
    before = policy(rule_list, default).evaluate(proposal)
    widened = [*rule_list]
    widened.insert(min(position, len(widened)), {**extra, "name": "extra-allow"})
    after = policy(widened, default).evaluate(proposal)
    if before.decision == "allow":
        assert after.decision == "allow"
    elif before.rule != "policy.default":
        # A deny or require_approval some rule produced survives, unchanged.
        assert essence(after) == essence(before)
    else:
        # Nothing matched before: the new allow rule may now allow it explicitly, nothing else.
        assert after.decision == before.decision or after.rule == "extra-allow"


@settings(max_examples=100, deadline=None)
@given(rule_list=st.lists(rules(), min_size=1, max_size=6), data=st.data(), proposal=proposals)
def test_decision_and_tier_do_not_depend_on_rule_order(
    rule_list: list[dict[str, Any]], data: st.DataObject, proposal: Proposal
) -> None:
    named = [{**rule, "name": f"r{i}"} for i, rule in enumerate(rule_list)]
    first = policy(named).evaluate(proposal)
    for reordered in (named[::-1], data.draw(st.permutations(named))):
        second = policy(reordered).evaluate(proposal)
        assert (first.decision, first.tier) == (second.decision, second.tier)
        assert set(first.matched) == set(second.matched)
