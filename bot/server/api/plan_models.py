"""The HTTP API's bodies for plans (``/v1/plans``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from store.models import Evidence, PlanProgress

MAX_PLAN_STEPS = 20


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepIn(_Body):
    action: str = Field(min_length=1, max_length=200, examples=["issue_refund"])
    args: dict[str, Any] = Field(default_factory=dict, examples=[{"amount": 120}])


class PlanIn(_Body):
    """The same fields as ``ApprovalClient.request_plan``."""

    steps: list[StepIn] = Field(min_length=1, max_length=MAX_PLAN_STEPS,
                                description="The steps, in the order they will run")
    reason: str = Field(min_length=1, max_length=3000)
    requested_by: str = Field(min_length=1, max_length=64,
                              description="Slack user id of the person the agent acts for")
    summary: str | None = Field(default=None, max_length=3000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    run_id: str | None = Field(default=None, max_length=200)
    idempotency_key: str | None = Field(default=None, max_length=150)
    deadline_s: float | None = Field(
        default=None, gt=0, description="How long after approval the steps may run (at most "
        "the configured plan_deadline)")


class StepClaimIn(_Body):
    action: str = Field(min_length=1, max_length=200,
                        description="The action about to run: it must be the plan's next step")
    args: dict[str, Any] | None = Field(
        default=None, description="The arguments about to run; refused unless they are the "
        "next step's approved ones. Omitted: that step's approved arguments.")


class StepOut(_Body):
    index: int = Field(description="The step's position, from 0")
    action: str
    args: dict[str, Any] = Field(description="Exactly what to run")
    args_sha256: str
    receipt: str = Field(description="EdDSA JWT naming the plan (sub), the step's action and "
                         "the SHA-256 of its arguments: hand it to the tool service")
    receipt_expires_at: datetime


class PlanOut(PlanProgress):
    """Where a plan stands, as the agent that asked for it sees it."""
