"""Batch review: which pending requests may share one card, and the ``batch:`` key of a rule.

A rule that says ``batch: {max: 50, window: 2m}`` lets similar requests it sends to review
be shown together: same action, route (the whole route snapshot), agent, tier and rule.
A batch takes members for ``window`` after its first one, up to ``max`` of them; later ones
start the next batch. Never batched, whatever the rule says: critical tiers, routes that
need more than one approval (two-person rules), and escalation reviews. Each member stays
its own ticket with its own deadline, chain, decision row and audit events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from escalation.config_errors import Finding
from escalation.durations import Duration
from escalation.yaml_marks import Path
from store.batches import similarity_key
from store.models import ReviewType, RiskTier, Ticket

MAX_BATCH = 90
"""The most members one batch card may list (``max``'s upper bound)."""
MAX_WINDOW = timedelta(hours=1)


class BatchConfig(BaseModel):
    """``batch:`` on a rule: group up to ``max`` similar requests arriving within
    ``window`` of the first onto one card."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max: StrictInt = Field(default=50, ge=2, le=MAX_BATCH)
    window: Duration = Field(default=timedelta(minutes=2),
                             json_schema_extra={"default": "2m"})

    @field_validator("window")
    @classmethod
    def _short_window(cls, value: timedelta) -> timedelta:
        if value > MAX_WINDOW:
            raise PydanticCustomError("signoff", "{message}", {
                "message": "a batch window longer than 1h keeps early requests waiting for "
                           "later ones",
                "fix": "use a window of at most 1h (e.g. 2m)"})
        return value


@dataclass(frozen=True)
class BatchPlan:
    """Where a new ticket may join: the key similar tickets share, and the rule's limits."""

    key: str
    max: int
    window: timedelta


def never_batched(tier: RiskTier, review: ReviewType, approvals_required: int) -> str | None:
    """Why a request with these properties is never batched (None when it may be)."""
    if tier == RiskTier.CRITICAL:
        return "critical requests are always reviewed one by one"
    if approvals_required > 1:
        return "requests that need more than one approval are always reviewed one by one"
    if review == ReviewType.ESCALATION:
        return "escalation reviews are always reviewed one by one"
    return None


def plan_for(ticket: Ticket, batch: BatchConfig | None) -> BatchPlan | None:
    """Where ``ticket`` (just created, pending) may be batched, or None: reviewed alone."""
    if batch is None or ticket.canary is not None:
        return None
    if never_batched(ticket.tier, ticket.review_type, ticket.route.approvals_required):
        return None
    return BatchPlan(similarity_key(ticket), batch.max, batch.window)


def rule_batch(rules: Mapping[str, Any], rule_name: str | None) -> BatchConfig | None:
    """The ``batch:`` of the rule named ``rule_name`` (``rules``: label to rule)."""
    rule = rules.get(rule_name or "")
    found = getattr(rule, "batch", None)
    return found if isinstance(found, BatchConfig) else None


# -- signoff.yml checks (placed by the config loader: file, line, key, fix) ------------------

def batch_findings(path: Path, rule: Mapping[str, Any],
                   route: Mapping[str, Any]) -> list[Finding]:
    """A rule's ``batch:`` that can never apply: it would promise batching policy refuses."""
    if rule.get("batch") is None:
        return []
    where: Path = (*path, "batch")
    tier = rule.get("tier")
    if tier == RiskTier.CRITICAL.value:
        return [Finding(where, "critical requests are never batched",
                        "remove batch: from this rule, or lower its tier")]
    if rule.get("review") == ReviewType.ESCALATION.value:
        return [Finding(where, "escalation reviews are never batched",
                        "remove batch: from this rule, or drop review: escalation")]
    approvals = rule.get("approvals") or route.get("approvals", 1)
    if isinstance(approvals, int) and not isinstance(approvals, bool) and approvals > 1:
        return [Finding(where, f"requests that need {approvals} approvals are never batched "
                        "(two-person rules are reviewed one by one)",
                        "remove batch: from this rule, or make it need one approval")]
    return []
