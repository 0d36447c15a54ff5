"""What policy lets a standing grant cover: ``grants: never``, checked with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalation.config import ConfigInvalid, load_config, parse_config
from escalation.grants import NEVER, grant_refusal
from escalation.policy import Policy, Proposal

EXAMPLE = Path(__file__).parent.parent / "fixtures" / "signoff.example.yml"
RULE = """    - action: issue_refund
      decide: require_approval
      tier: high
      route: payments
"""


def outcome(text: str, amount: int = 120, action: str = "issue_refund"):  # type: ignore[no-untyped-def]
    config = parse_config(text)
    return config, Policy(config).evaluate(Proposal(
        action=action, args={"amount": amount}, requested_by="U0REQUESTER"))


def test_grants_may_cover_a_plain_approval_rule() -> None:
    config, out = outcome(EXAMPLE.read_text())
    assert grant_refusal(config, out) is None


def test_grants_never_critical_two_person_escalations_and_denials() -> None:
    text = EXAMPLE.read_text()
    assert RULE in text
    never = text.replace(RULE, RULE + "      grants: never\n")
    config, out = outcome(never)
    assert grant_refusal(config, out) == NEVER
    config, out = outcome(text, amount=5000)  # critical, two approvers
    assert "critical" in str(grant_refusal(config, out))
    config, out = outcome(text, action="drop_database")
    assert "deny" in str(grant_refusal(config, out))
    config, out = outcome(text, action="search_orders")
    assert "allow" in str(grant_refusal(config, out))
    config, out = outcome(text, action="send_email")  # a content review
    assert "only approval requests" in str(grant_refusal(config, out))


def test_a_bad_grants_value_names_file_line_and_key(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace(RULE, RULE + "      grants: sometimes\n")
    file = tmp_path / "signoff.yml"
    file.write_text(text)
    with pytest.raises(ConfigInvalid) as info:
        load_config(file)
    [problem] = info.value.problems
    line = text.splitlines().index("      grants: sometimes") + 1
    assert (problem.file, problem.line) == (str(file), line)
    assert problem.key.endswith("grants") and "never" in str(problem)
