"""``signoff policy test`` and ``check-config --cases``: policy unit cases as CI checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from escalation.config import load_config, parse_config
from escalation.policy_cases import load_cases, parse_cases, run_cases
from store.errors import ConfigInvalid
from tests.escalation.test_config_cli import run

FIXTURES = Path(__file__).parent.parent / "fixtures"
EXAMPLE = FIXTURES / "signoff.example.yml"
CASES = FIXTURES / "policy-cases.example.yml"


def test_the_example_cases_hold_for_the_example_policy() -> None:
    results = run_cases(load_config(EXAMPLE), load_cases(CASES))
    assert len(results) == 6
    assert [r.case.name for r in results if not r.passed] == []


def test_an_edit_that_relaxes_a_rule_fails_the_case_that_pinned_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    relaxed = EXAMPLE.read_text().replace("when: {amount: {gt: 1000}}",
                                          "when: {amount: {gt: 10000}}")
    edited = tmp_path / "signoff.yml"
    edited.write_text(relaxed)
    code, out, _ = run(["policy", "test", str(CASES), "--config", str(edited)], capsys)
    assert code == 1
    assert "FAIL a big refund needs two payments approvers" in out
    assert "tier: expected critical, policy gives high" in out
    assert "approvals: expected 2, policy gives 1" in out
    assert "5 passed, 1 failed" in out
    # the failing case is located in the cases file, by line
    line = CASES.read_text().splitlines().index("  - name: a big refund needs two payments "
                                                "approvers") + 1
    assert f"({CASES}:{line})" in out


def test_a_deny_turned_into_review_is_caught() -> None:
    text = EXAMPLE.read_text().replace("      decide: deny\n      reason: never from an agent",
                                       "      decide: require_approval")
    results = run_cases(parse_config(text, "edited.yml"), load_cases(CASES))
    failed = [r for r in results if not r.passed]
    assert [r.case.name for r in failed] == ["nobody drops a database from an agent"]
    assert failed[0].differences == (("decision", "deny", "require_approval"),)


def test_check_config_runs_the_cases_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check-config", str(EXAMPLE), "--cases", str(CASES)], capsys)
    assert code == 0
    assert "6 passed, 0 failed" in out


def test_a_bad_cases_file_names_file_line_and_key(tmp_path: Path) -> None:
    bad = "cases:\n  - name: typo\n    action: x\n    expect: {decison: allow}\n"
    with pytest.raises(ConfigInvalid) as exc:
        parse_cases(bad, "cases.yml")
    problem = exc.value.problems[0]
    assert (problem.file, problem.line) == ("cases.yml", 4)
    assert "decison" in problem.key or "decison" in problem.message
    assert "decision" in str(problem)  # suggests the key it resembles


def test_unknown_tier_and_empty_file_are_refused() -> None:
    with pytest.raises(ConfigInvalid):
        parse_cases("cases:\n  - {name: a, action: b, expect: {tier: huge}}\n", "c.yml")
    with pytest.raises(ConfigInvalid):
        parse_cases("", "c.yml")


def test_policy_test_as_a_command_exits_1_on_a_changed_outcome(tmp_path: Path) -> None:
    edited = tmp_path / "signoff.yml"
    edited.write_text(EXAMPLE.read_text().replace("tier: critical", "tier: high"))
    ok = subprocess.run([sys.executable, "-m", "bot.cli", "policy", "test", str(CASES),
                         "--config", str(EXAMPLE)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    changed = subprocess.run([sys.executable, "-m", "bot.cli", "policy", "test", str(CASES),
                              "--config", str(edited)], capture_output=True, text=True,
                             timeout=60)
    assert changed.returncode == 1
    assert "tier: expected critical, policy gives high" in changed.stdout
