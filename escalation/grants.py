"""What policy lets a standing grant cover.

A grant is only ever consulted where policy says ``require_approval`` (a deny always wins,
an allow needs nothing), and never for critical tiers, rules that need two or more
approvers, escalation or content reviews, or rules marked ``grants: never``. The rule is
looked up by the name the outcome carries, in the configuration in force now, so marking a
rule ``grants: never`` stops its grants at once.
"""

from __future__ import annotations

from escalation.config import Rule, SignoffConfig
from escalation.policy import PolicyOutcome
from store.grants import ineligible

NEVER = "this policy rule is marked grants: never"


def rule_named(config: SignoffConfig, name: str) -> Rule | None:
    for rule_name, rule in zip(config.policy.rule_names(), config.policy.rules, strict=True):
        if rule_name == name:
            return rule
    return None


def grant_refusal(config: SignoffConfig, outcome: PolicyOutcome) -> str | None:
    """None when a standing grant may cover a request with this policy outcome, else why not
    (also what a reviewer is told when they try to make one)."""
    if outcome.decision != "require_approval" or outcome.route is None:
        return f"policy decides {outcome.decision}, so no grant applies"
    rule = rule_named(config, outcome.rule)
    if rule is not None and rule.grants == "never":
        return NEVER
    return ineligible(tier=outcome.tier.value,
                      approvals_required=outcome.route.approvals_required,
                      review_type=outcome.review.value)
