"""A numeric or pattern condition that meets a value it cannot compare fails closed: it
counts as a match for deny and require_approval rules and as no match for allow rules, and
``policy explain`` says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from escalation.config import parse_config
from escalation.policy import Policy, Proposal
from store.errors import ConfigError
from tests.escalation.test_config_cli import run
from tests.escalation.test_policy import BASE, ask, policy_with

UNCOMPARABLE = ["1e400", "Infinity", "-Infinity", "NaN", "60_000", "lots", "", None, True,
                [5000], {"value": 5000}, float("inf"), float("nan")]


@pytest.mark.parametrize("value", UNCOMPARABLE, ids=repr)
@pytest.mark.parametrize("decide", ["deny", "require_approval"])
def test_a_restrictive_rule_matches_what_it_cannot_compare(value: Any, decide: str) -> None:
    policy = policy_with(f"""
- {{action: pay, when: {{amount: {{gt: 1000}}}}, decide: {decide}, tier: critical}}
- {{action: pay, decide: allow}}
""")
    outcome = ask(policy, "pay", amount=value)
    assert (outcome.decision, outcome.rule) == (decide, "rules[0] pay")


@pytest.mark.parametrize("value", UNCOMPARABLE, ids=repr)
def test_an_allow_rule_never_matches_what_it_cannot_compare(value: Any) -> None:
    policy = policy_with("- {action: pay, when: {amount: {lt: 100}}, decide: allow}")
    assert ask(policy, "pay", amount=value).decision == "require_approval"


def test_comparable_values_are_judged_as_before() -> None:
    policy = policy_with("""
- {action: pay, when: {amount: {gt: 1000}}, decide: deny}
- {action: pay, when: {amount: {lt: 100}}, decide: allow}
""")
    assert ask(policy, "pay", amount=5000).decision == "deny"
    assert ask(policy, "pay", amount="5000.00").decision == "deny"  # quoted numbers count
    assert ask(policy, "pay", amount=10**400).decision == "deny"  # exact, no overflow
    assert ask(policy, "pay", amount=50).decision == "allow"
    assert ask(policy, "pay", amount=500).decision == "require_approval"
    assert ask(policy, "pay").decision == "require_approval"  # missing: only exists judges it


def test_a_pattern_fails_closed_on_a_non_string() -> None:
    policy = policy_with("- {action: mail, when: {to: {matches: '.*@rival\\\\.com'}}, "
                         "decide: deny}")
    assert ask(policy, "mail", to=["ceo@rival.com"]).decision == "deny"
    assert ask(policy, "mail", to="ceo@example.com").decision == "require_approval"


def test_explain_says_a_match_was_assumed() -> None:
    policy = policy_with("- {action: pay, when: {amount: {gt: 1000}}, decide: deny}")
    text = policy.explain(Proposal(action="pay", args={"amount": "1e400"},
                                   requested_by="U0A"))
    assert "decision: deny" in text
    assert ("amount is '1e400', which cannot be compared with > 1000: counted as a match "
            "(fail closed)") in text
    plain = policy.explain(Proposal(action="pay", args={"amount": 5000}, requested_by="U0A"))
    assert "fail closed" not in plain


def test_policy_explain_command_reports_fail_closed(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    config = tmp_path / "signoff.yml"
    config.write_text(BASE.replace("DEFAULT", "require_approval")
                      + "    - {action: pay, when: {amount: {gt: 1000}}, decide: deny}\n")
    action = tmp_path / "action.json"
    action.write_text('{"action": "pay", "args": {"amount": 1e400}, "requested_by": "U0A"}')
    code, out, _ = run(["policy", "explain", str(action), "--config", str(config)], capsys)
    assert code == 0 and "decision: deny" in out and "counted as a match (fail closed)" in out
    code, out, _ = run(["policy", "explain", str(action), "--json", "--config", str(config)],
                       capsys)
    data = json.loads(out)
    assert data["decision"] == "deny"
    assert "fail closed" in data["checks"][0]["fail_closed"][0]


@pytest.mark.parametrize("threshold", [".inf", "-.inf", ".nan"])
def test_a_threshold_must_be_finite(threshold: str) -> None:
    text = BASE.replace("DEFAULT", "require_approval") + (
        f"    - {{action: pay, when: {{amount: {{gt: {threshold}}}}}, decide: deny}}\n")
    with pytest.raises(ConfigError, match="finite number"):
        Policy(parse_config(text))
