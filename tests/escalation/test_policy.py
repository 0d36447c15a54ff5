"""The policy over the README's example configuration, and how rules combine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from escalation.config import SignoffConfig, load_config, parse_config
from escalation.policy import Policy, PolicyOutcome, Proposal
from store.models import ReviewType, RiskTier

EXAMPLE = Path(__file__).parent.parent / "fixtures" / "signoff.example.yml"

BASE = """\
version: 1
policy_version: test-1
reviewers:
  ops: [U0OPS1, U0OPS2]
  leads: [U0LEAD]
routes:
  default: {channel: C0OPS, approvers: ops, chain: short}
  other: {channel: C0OTHER, approvers: ops, chain: short, approvals: 2}
chains:
  short: {levels: [{notify: [U0ONCALL], after: 5m}], expire_after: 30m}
policy:
  default: DEFAULT
  rules:
"""


@pytest.fixture(scope="module")
def example() -> Policy:
    return Policy(load_config(EXAMPLE))


def policy_with(rules: str, default: str = "require_approval") -> Policy:
    body = "".join(f"    {line}\n" for line in rules.strip("\n").splitlines())
    return Policy(parse_config(BASE.replace("DEFAULT", default) + body))


def ask(policy: Policy, action: str, confidence: float | None = None,
        requested_by: str = "U0AGENTUSER", **args: Any) -> PolicyOutcome:
    return policy.evaluate(Proposal(action=action, args=args, requested_by=requested_by,
                                    confidence=confidence))


# action, args, confidence -> decision, rule, tier, review, route, approvals, chain, expiry
# (the real deadline: both example chains end before their expire_after, 30m and 40m)
EXAMPLE_TABLE = [
    ("search_docs", {}, None,
     ("allow", "rules[0] search_*", "medium", "approval", None, None, None, None)),
    ("search_docs", {}, 0.9,
     ("allow", "rules[0] search_*", "medium", "approval", None, None, None, None)),
    ("search_docs", {}, 0.5,  # "below" is strict
     ("allow", "rules[0] search_*", "medium", "approval", None, None, None, None)),
    ("search_docs", {}, 0.3,
     ("require_approval", "rules[5]", "medium", "escalation", "default", 1, "standard", "30m")),
    ("issue_refund", {"amount": 5000}, None,
     ("require_approval", "rules[1] issue_refund", "critical", "approval", "payments", 2,
      "payments-oncall", "40m")),
    ("issue_refund", {"amount": "5000.00"}, None,  # a quoted number cannot dodge the threshold
     ("require_approval", "rules[1] issue_refund", "critical", "approval", "payments", 2,
      "payments-oncall", "40m")),
    ("issue_refund", {"amount": 1000}, None,
     ("require_approval", "rules[2] issue_refund", "high", "approval", "payments", 1,
      "payments-oncall", "40m")),
    ("issue_refund", {}, None,
     ("require_approval", "rules[2] issue_refund", "high", "approval", "payments", 1,
      "payments-oncall", "40m")),
    ("issue_refund", {"amount": 5000}, 0.2,  # critical outranks the medium escalation rule
     ("require_approval", "rules[1] issue_refund", "critical", "approval", "payments", 2,
      "payments-oncall", "40m")),
    ("send_email", {"to": "a@example.com"}, None,
     ("require_approval", "rules[3] send_email", "medium", "edit", "default", 1, "standard",
      "30m")),
    ("drop_database", {}, None,
     ("deny", "rules[4] drop_database", "medium", "approval", None, None, None, None)),
    ("drop_database", {}, 0.1,  # deny outranks the escalation rule
     ("deny", "rules[4] drop_database", "medium", "approval", None, None, None, None)),
    ("launch_rocket", {}, None,
     ("require_approval", "policy.default", "medium", "approval", "default", 1, "standard",
      "30m")),
    ("Search_docs", {}, None,  # action names are matched case-sensitively
     ("require_approval", "policy.default", "medium", "approval", "default", 1, "standard",
      "30m")),
]


@pytest.mark.parametrize(("action", "args", "confidence", "expected"), EXAMPLE_TABLE)
def test_example_policy(example: Policy, action: str, args: dict[str, Any],
                        confidence: float | None, expected: tuple[Any, ...]) -> None:
    out = ask(example, action, confidence, **args)
    decision, rule, tier, review, route, approvals, chain, expiry = expected
    assert (out.decision, out.rule, out.tier, out.review) == (decision, rule, tier, review)
    assert (out.route.name if out.route else None) == route
    assert (out.route.approvals_required if out.route else None) == approvals
    assert out.chain == chain
    assert (out.model_dump(mode="json")["expire_after"]) == expiry
    assert out.policy_version == "2026-11-20"
    assert out.rule in out.matched or out.rule == "policy.default"


def test_critical_refund_resolves_route_and_lists_all_matches(example: Policy) -> None:
    out = ask(example, "issue_refund", 0.2, amount=5000)
    assert out.route is not None
    assert out.route.channel == "C0PAYMENTS"
    assert out.route.approvers == ("U0PAYLEAD", "U0FINOPS")
    assert out.route.approvals_required == 2
    assert out.expire_after == timedelta(minutes=40)  # the chain ends before expire_after 1h
    assert out.matched == ("rules[1] issue_refund", "rules[2] issue_refund", "rules[5]")


def test_unknown_action_is_never_allowed(example: Policy) -> None:
    out = ask(example, "anything_new")
    assert out.decision == "require_approval"
    assert out.matched == ()
    assert out.route is not None and out.route.name == "default"
    assert out.route.approvers == ("S0SREGROUP",)
    assert out.reason and "no rule matches" in out.reason


@pytest.mark.parametrize("order", ["deny_first", "allow_first"])
def test_deny_beats_allow_in_either_order(order: str) -> None:
    deny = '- {action: "drop_*", decide: deny, reason: destructive}'
    allow = '- {action: "*", decide: allow}'
    policy = policy_with("\n".join([deny, allow] if order == "deny_first" else [allow, deny]))
    out = ask(policy, "drop_table")
    assert out.decision == "deny"
    assert out.reason == "destructive"
    assert len(out.matched) == 2
    assert ask(policy, "read_table").decision == "allow"


@pytest.mark.parametrize("order", ["approval_first", "allow_first"])
def test_require_approval_beats_allow_in_either_order(order: str) -> None:
    gate = "- {action: pay, decide: require_approval, tier: high}"
    allow = '- {action: "*", decide: allow}'
    policy = policy_with("\n".join([gate, allow] if order == "approval_first" else [allow, gate]))
    out = ask(policy, "pay")
    assert (out.decision, out.tier) == ("require_approval", RiskTier.HIGH)


def test_highest_tier_wins_then_earliest_rule() -> None:
    policy = policy_with("""
- {name: first-medium, action: pay, decide: require_approval}
- {name: second-medium, action: pay, decide: require_approval, route: other}
- {name: late-critical, action: pay, when: {amount: {gte: 100}}, decide: require_approval,
   tier: critical, approvers: leads, approvals: 1, expire_after: 10m}
""")
    assert ask(policy, "pay", amount=5).rule == "first-medium"
    out = ask(policy, "pay", amount=100)
    assert out.rule == "late-critical"
    assert out.route is not None and out.route.approvers == ("U0LEAD",)
    assert out.expire_after == timedelta(minutes=10)


def test_route_approvals_apply_unless_the_rule_sets_them() -> None:
    policy = policy_with("- {action: pay, decide: require_approval, route: other}")
    out = ask(policy, "pay")
    assert out.route is not None and out.route.approvals_required == 2


def test_default_deny() -> None:
    policy = policy_with('- {action: "read_*", decide: allow}', default="deny")
    out = ask(policy, "write_x")
    assert (out.decision, out.rule, out.route) == ("deny", "policy.default", None)
    assert ask(policy, "read_x").decision == "allow"


@pytest.mark.parametrize(("when", "args", "matches"), [
    ("{currency: EUR}", {"currency": "EUR"}, True),
    ("{currency: EUR}", {"currency": "USD"}, False),
    ("{currency: {ne: USD}}", {"currency": "EUR"}, True),
    ("{currency: {ne: USD}}", {}, False),  # a missing value satisfies nothing but exists: false
    ("{currency: {in: [EUR, GBP]}}", {"currency": "GBP"}, True),
    ("{amount: {gte: 10, lt: 20}}", {"amount": 10}, True),
    ("{amount: {gte: 10, lt: 20}}", {"amount": 20}, False),
    # Booleans and text are not numbers: a deny rule fails closed on them (see
    # tests/escalation/test_fail_closed.py for allow rules, where they never match).
    ("{amount: {lte: 5}}", {"amount": True}, True),
    ("{amount: {gt: 5}}", {"amount": "lots"}, True),
    ("{to: {matches: '.*@example\\.com'}}", {"to": "a@example.com"}, True),
    ("{to: {matches: '.*@example\\.com'}}", {"to": "a@example.com.evil.org"}, False),
    ("{to: {matches: 'example'}}", {"to": "a@example.com"}, False),  # whole value must match
    ("{customer.country: {in: [DE, FR]}}", {"customer": {"country": "FR"}}, True),
    ("{items.0.sku: X1}", {"items": [{"sku": "X1"}]}, True),
    ("{note: {exists: false}}", {}, True),
    ("{note: {exists: true}}", {"note": None}, True),
    ("{flag: true}", {"flag": 1}, False),
    ("{count: 1}", {"count": 1.0}, True),
])
def test_when_predicates(when: str, args: dict[str, Any], matches: bool) -> None:
    policy = policy_with(f"- {{action: act, when: {when}, decide: deny}}")
    assert (ask(policy, "act", **args).decision == "deny") is matches


def test_requested_by_and_confidence_predicates() -> None:
    policy = policy_with("""
- {action: pay, requested_by: {in: [U0INTERN]}, decide: require_approval, tier: high}
- {action: pay, confidence_below: 0.7, decide: deny}
- {action: pay, decide: allow}
""")
    assert ask(policy, "pay", requested_by="U0INTERN").tier == RiskTier.HIGH
    assert ask(policy, "pay", requested_by="U0BOSS").decision == "allow"
    assert ask(policy, "pay", confidence=0.69).decision == "deny"
    # No confidence given: confidence_below does not apply (documented choice).
    assert ask(policy, "pay", confidence=None).decision == "allow"


def test_explain_names_every_rule_and_the_winner(example: Policy) -> None:
    text = example.explain(Proposal(action="search_docs", args={"q": "x"},
                                    requested_by="U0A", confidence=0.3))
    assert "decision: require_approval" in text
    assert "[wins]  rules[5]: require_approval" in text
    assert "[match] rules[0] search_*: allow" in text
    assert "[no]    rules[4] drop_database: action 'search_docs' does not match" in text
    assert "review: escalation" in text
    assert "policy_version: 2026-11-20" in text
    missing = example.explain(Proposal(action="search_docs", requested_by="U0A"))
    assert "no confidence given, so confidence_below 0.5 does not apply" in missing


def test_proposal_is_validated() -> None:
    with pytest.raises(ValidationError):
        Proposal(action="x", requested_by="U0A", confidence=1.5)
    with pytest.raises(ValidationError):
        Proposal(action="", requested_by="U0A")


def test_config_built_in_python_is_cross_checked() -> None:
    data = {"version": 1, "routes": {"default": {"channel": "C0X", "approvers": "ops",
                                                 "chain": "nope"}}}
    with pytest.raises(ValidationError, match="unknown chain 'nope'"):
        SignoffConfig.model_validate(data)


def test_outcome_review_type_is_the_store_enum(example: Policy) -> None:
    assert ask(example, "send_email").review is ReviewType.EDIT
