"""``break_glass:`` in signoff.yml: what it allows, and the errors (file, line, key, fix) for
what it must not; and which tickets policy, as configured now, lets be broken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escalation.breakglass import terms_for, witnesses
from escalation.config import parse_config
from store.models import Route, Ticket, TicketStatus, args_hash
from tests.escalation.test_config import EXAMPLE_TEXT, line_of, one_problem

SECTION = "break_glass:\n  security_channel: C0SECURITY\n"
RULES = """\
    - action: restart_payments
      decide: require_approval
      route: payments
      break_glass: allowed
    - action: rotate_key
      decide: require_approval
      route: payments
      break_glass: {allowed: true, witness_within: 5m, allow_self: true}
"""


def config_text(rules: str = RULES, section: str = SECTION) -> str:
    return EXAMPLE_TEXT.replace("  rules:\n", "  rules:\n" + rules, 1) + section


def ticket(action: str, args: dict[str, object] | None = None, **kw: object) -> Ticket:
    args = args or {}
    now = datetime.now(UTC)
    fields: dict[str, object] = dict(
        id="t1", idempotency_key=None, action=action, args=args, args_hash=args_hash(args),
        final_args=args, final_args_hash=args_hash(args), review_type="approval", summary=None,
        reason="", evidence=(), confidence=None, requested_by="U0REQUESTER", agent=None,
        run_id=None, tier="high", route=Route(name="payments", channel="C0PAYMENTS",
                                              approvers=("U0PAYLEAD",), chain="payments-oncall"),
        policy_version="v", policy_rule="rules[0] restart_payments",
        status=TicketStatus.PENDING, version=1, approvals=(), decided_by=None,
        decided_at=None, created_at=now, expires_at=now + timedelta(hours=1),
        next_action_at=None, escalation_level=0, escalation_loop=0, escalation=None,
        card=None)
    fields.update(kw)
    return Ticket(**fields)  # type: ignore[arg-type]


def test_allowed_rules_give_terms_and_others_none() -> None:
    config = parse_config(config_text())
    allowed = terms_for(config, ticket("restart_payments"))
    assert allowed is not None and allowed.security_channel == "C0SECURITY"
    assert allowed.terms.witness_within == timedelta(minutes=15)
    assert not allowed.terms.allow_self and allowed.responders is None
    rotate = terms_for(config, ticket("rotate_key"))
    assert rotate is not None and rotate.terms.allow_self
    assert rotate.terms.witness_within == timedelta(minutes=5)
    assert terms_for(config, ticket("issue_refund", {"amount": 5})) is None  # no break_glass
    assert terms_for(config, ticket("drop_database")) is None  # denied
    assert terms_for(config, ticket("restart_payments", status=TicketStatus.APPROVED)) is None
    # A canary's card offers what its rule's real requests offer (the bot settles it).
    assert terms_for(config, ticket("restart_payments", canary="c")) is not None
    moved = ticket("restart_payments", route=Route(name="default", channel="C0APPROVALS"))
    assert terms_for(config, moved) is None  # policy sends it to another route now
    assert "U0PAYONCALL" in witnesses(config, ticket("restart_payments"))


def test_responders_group_replaces_the_approvers() -> None:
    config = parse_config(config_text(section=SECTION + "  responders: sre\n"))
    allowed = terms_for(config, ticket("restart_payments"))
    assert allowed is not None and allowed.responders == ("S0SREGROUP",)


@pytest.mark.parametrize(("rules", "section", "key", "needle", "fix"), [
    (RULES, "", "policy.rules[0].break_glass", "break_glass: allowed",
     "security_channel"),
    ("    - action: wipe\n      decide: deny\n      break_glass: allowed\n", SECTION,
     "policy.rules[0].break_glass", "break_glass: allowed", "deny rule"),
    ("    - action: wipe\n      decide: require_approval\n      break_glass: sure\n",
     SECTION, "policy.rules[0].break_glass", "break_glass: sure", "break_glass: allowed"),
    (RULES, "break_glass:\n  security_channel: security\n", "break_glass.security_channel",
     "security_channel: security", "channel id"),
    (RULES, SECTION + "  responders: nobody\n", "break_glass.responders", "responders: nobody",
     "reviewers"),
    (RULES, SECTION + "  witness_within: 0m\n", "break_glass.witness_within",
     "witness_within: 0m", "positive"),
])
def test_bad_settings_are_placed_with_a_fix(tmp_path: Path, rules: str, section: str,
                                            key: str, needle: str, fix: str) -> None:
    text = config_text(rules, section)
    problem = one_problem(text, tmp_path, key)
    assert problem.line == line_of(text, needle)
    assert fix in (problem.fix or "") + problem.message


def test_a_configuration_without_break_glass_keeps_its_policy_hash() -> None:
    """Upgrading must not change policy_version (a hash when left out) nor the digest
    recorded for an explicit one: unset break_glass keys are not dumped."""
    plain = parse_config(EXAMPLE_TEXT)
    assert "break_glass" not in str(plain.model_dump(mode="json"))
    with_it = parse_config(config_text())
    assert with_it.policy.model_dump(mode="json")["rules"][0]["break_glass"]["allowed"]
    unversioned = parse_config(EXAMPLE_TEXT.replace('policy_version: "2026-11-20"\n', ""))
    assert "break_glass" not in str(unversioned.model_dump(mode="json"))


def test_policy_explain_says_whether_break_glass_is_allowed() -> None:
    from escalation.policy import Policy, Proposal

    policy = Policy(parse_config(config_text()))
    shown = policy.explain(Proposal(action="rotate_key", requested_by="U0X"))
    assert ("break-glass: allowed (witnessed within 5m; responders: whoever may approve it; "
            "the requester too)") in shown
    assert "break-glass" not in policy.explain(Proposal(action="issue_refund",
                                                        args={"amount": 5},
                                                        requested_by="U0X"))
