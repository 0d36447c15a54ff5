"""``fallback_approvers`` on routes: validated with file, line, key and fix; resolved into
the route every ticket snapshots."""

from __future__ import annotations

from pathlib import Path

from escalation.config import parse_config
from escalation.policy import Policy, Proposal
from tests.escalation.test_config import EXAMPLE_TEXT, line_of, one_problem

WITH_LEADS = EXAMPLE_TEXT.replace("  sre: [S0SREGROUP]",
                                  "  sre: [S0SREGROUP]\n  payments-leads: [U0PAYMGR]")


def with_fallback(group: str) -> str:
    return WITH_LEADS.replace("    chain: payments-oncall\n",
                              f"    chain: payments-oncall\n    fallback_approvers: {group}\n")


def test_fallback_approvers_reach_the_ticket_route() -> None:
    config = parse_config(with_fallback("payments-leads"))
    assert config.route("payments").fallback == ("U0PAYMGR",)
    assert config.route("default").fallback == ()
    outcome = Policy(config).evaluate(Proposal(action="issue_refund", args={"amount": 5},
                                               requested_by="U0REQUESTER"))
    assert outcome.route is not None and outcome.route.fallback == ("U0PAYMGR",)


def test_an_unknown_group_names_file_line_key_and_fix(tmp_path: Path) -> None:
    text = with_fallback("payment-leads")
    problem = one_problem(text, tmp_path, "routes.payments.fallback_approvers")
    assert problem.line == line_of(text, "fallback_approvers: payment-leads")
    assert "unknown reviewer group 'payment-leads'" in problem.message
    assert problem.fix is not None and "did you mean 'payments-leads'?" in problem.fix


def test_the_routes_own_approvers_are_refused(tmp_path: Path) -> None:
    text = with_fallback("payments-approvers")
    problem = one_problem(text, tmp_path, "routes.payments.fallback_approvers")
    assert "would never add anyone" in problem.message
    assert problem.fix is not None and "another reviewers group" in problem.fix


def test_a_list_instead_of_a_group_name_is_refused(tmp_path: Path) -> None:
    text = with_fallback("[U0PAYMGR]")
    problem = one_problem(text, tmp_path, "routes.payments.fallback_approvers")
    assert problem.line == line_of(text, "fallback_approvers:")
