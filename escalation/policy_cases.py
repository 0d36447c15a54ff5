"""Policy unit cases: what a team expects its policy to decide, checked like code.

A cases file lists proposals and the outcome each must get::

    cases:
      - name: big refunds need two payments approvers
        action: issue_refund
        args: {amount: 5000, customer: cus_1}
        requested_by: U0RITA
        expect: {decision: require_approval, tier: critical, route: payments, approvals: 2}

Only the keys under ``expect`` are compared, so a case pins what matters and no more.
``signoff policy test FILE`` runs them against ``signoff.yml`` and fails (exit 1) when an edit
of the policy changes an expected outcome, which is what makes a policy change reviewable in CI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escalation.config import SignoffConfig
from escalation.config_errors import Finding, from_validation, yaml_problem
from escalation.policy import Policy, PolicyOutcome, Proposal
from escalation.yaml_marks import Marks, load_yaml
from store.errors import ConfigInvalid, Problem
from store.models import ReviewType, RiskTier

FIELDS = ("decision", "tier", "route", "approvals", "review", "rule")


class Expectation(BaseModel):
    """The parts of an outcome a case pins; a key left out is not compared."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: Literal["allow", "require_approval", "deny"] | None = None
    tier: RiskTier | None = None
    route: str | None = None
    approvals: int | None = Field(default=None, ge=1, le=10)
    review: ReviewType | None = None
    rule: str | None = None


class PolicyCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=1, max_length=200)
    args: dict[str, Any] = Field(default_factory=dict)
    requested_by: str = "U0POLICYTEST"
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    expect: Expectation

    def proposal(self) -> Proposal:
        return Proposal(action=self.action, args=self.args, requested_by=self.requested_by,
                        confidence=self.confidence)


class CasesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cases: list[PolicyCase] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    case: PolicyCase
    line: int | None
    outcome: PolicyOutcome
    differences: tuple[tuple[str, str, str], ...]
    """(field, expected, actual) for every pinned field that differs."""

    @property
    def passed(self) -> bool:
        return not self.differences


def actual(outcome: PolicyOutcome, field: str) -> str:
    """An outcome's value for one comparable field, as text."""
    route = outcome.route
    values: dict[str, Any] = {
        "decision": outcome.decision, "tier": outcome.tier.value,
        "route": route.name if route is not None else None,
        "approvals": route.approvals_required if route is not None else None,
        "review": outcome.review.value, "rule": outcome.rule,
    }
    value = values[field]
    return "-" if value is None else str(value)


def expected(expectation: Expectation, field: str) -> str | None:
    value = getattr(expectation, field)
    if value is None:
        return None
    return str(value.value) if hasattr(value, "value") else str(value)


def check(policy: Policy, case: PolicyCase, line: int | None = None) -> CaseResult:
    outcome = policy.evaluate(case.proposal())
    differences = []
    for field in FIELDS:
        want = expected(case.expect, field)
        if want is not None and want != actual(outcome, field):
            differences.append((field, want, actual(outcome, field)))
    return CaseResult(case, line, outcome, tuple(differences))


def parse_cases(text: str, source: str) -> list[tuple[PolicyCase, int | None]]:
    """Validate a cases file; problems name the file, line and key, as config errors do."""
    try:
        data, marks = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigInvalid([yaml_problem(source, exc)]) from None
    if not isinstance(data, dict):
        raise ConfigInvalid([Problem(source, marks.line(()), "",
                                     "a cases file must be a mapping with a 'cases:' list",
                                     "start with 'cases:' and one '- name: ...' entry per case")])
    try:
        parsed = CasesFile.model_validate(data)
    except ValidationError as exc:
        findings = from_validation(exc.errors(), CasesFile)
        raise ConfigInvalid([f.place(source, marks) for f in findings]) from None
    return [(case, _line(marks, i)) for i, case in enumerate(parsed.cases)]


def _line(marks: Marks, index: int) -> int | None:
    return marks.line(("cases", index))


def load_cases(path: str | Path) -> list[tuple[PolicyCase, int | None]]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigInvalid([Problem(str(file), None, "", f"cannot read the cases file: {reason}",
                                     "check the path given to --cases / policy test")]) from None
    return parse_cases(text, str(file))


def run_cases(config: SignoffConfig, cases: list[tuple[PolicyCase, int | None]]
              ) -> list[CaseResult]:
    policy = Policy(config)
    return [check(policy, case, line) for case, line in cases]


def report(results: list[CaseResult], source: str) -> list[str]:
    """One line per case, then each difference indented beneath a failing one."""
    lines = []
    for result in results:
        where = f"{source}:{result.line}" if result.line is not None else source
        mark = "ok  " if result.passed else "FAIL"
        lines.append(f"{mark} {result.case.name}  ({where})")
        for field, want, got in result.differences:
            lines.append(f"       {field}: expected {want}, policy gives {got} "
                         f"(rule {result.outcome.rule})")
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return lines


__all__ = ["CaseResult", "Expectation", "Finding", "PolicyCase", "check", "load_cases",
           "parse_cases", "report", "run_cases"]
