"""The HTTP API's bodies for plans (``/v1/plans``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from bot.server.api.models import (
    Action,
    Args,
    Body,
    Confidence,
    EvidenceList,
    IdempotencyKey,
    Reason,
    RequestedBy,
    RunId,
    Summary,
)
from store.models import PlanProgress

MAX_PLAN_STEPS = 20


class StepIn(Body):
    action: Action
    args: Args


class PlanIn(Body):
    """The same fields as ``ApprovalClient.request_plan``."""

    steps: list[StepIn] = Field(min_length=1, max_length=MAX_PLAN_STEPS,
                                description="The steps, in the order they will run")
    reason: Reason
    requested_by: RequestedBy
    summary: Summary = None
    evidence: EvidenceList
    confidence: Confidence = None
    run_id: RunId = None
    idempotency_key: IdempotencyKey = None
    deadline_s: float | None = Field(
        default=None, gt=0, description="How long after approval the steps may run (at most "
        "the configured plan_deadline)")


class StepClaimIn(Body):
    action: str = Field(min_length=1, max_length=200,
                        description="The action about to run: it must be the plan's next step")
    args: dict[str, Any] | None = Field(
        default=None, description="The arguments about to run; refused unless they are the "
        "next step's approved ones. Omitted: that step's approved arguments.")


class StepOut(Body):
    index: int = Field(description="The step's position, from 0")
    action: str
    args: dict[str, Any] = Field(description="Exactly what to run")
    args_sha256: str
    receipt: str = Field(description="EdDSA JWT naming the plan (sub), the step's action and "
                         "the SHA-256 of its arguments: hand it to the tool service")
    receipt_expires_at: datetime


class PlanOut(PlanProgress):
    """Where a plan stands, as the agent that asked for it sees it."""
