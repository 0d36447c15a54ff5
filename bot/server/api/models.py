"""The HTTP API's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from store.models import Evidence, Ticket


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestIn(_Body):
    """The same fields as ``ApprovalClient.request``."""

    action: str = Field(min_length=1, max_length=200, examples=["issue_refund"])
    args: dict[str, Any] = Field(default_factory=dict, examples=[{"amount": 120}])
    reason: str = Field(min_length=1, max_length=3000)
    requested_by: str = Field(min_length=1, max_length=64,
                              description="Slack user id of the person the agent acts for")
    summary: str | None = Field(default=None, max_length=3000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    run_id: str | None = Field(default=None, max_length=200)
    idempotency_key: str | None = Field(default=None, max_length=150)
    args_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of the tool's arguments: the edit form's fields")
    annotations: dict[str, Any] = Field(
        default_factory=dict, description="The tool's MCP annotations (destructiveHint...), "
        "for rules on annotations.*; set by signoff mcp-proxy from the tool's server. "
        "They loosen policy (allow rules) only from a token added with "
        "--trusted-annotations; from any other token they can only tighten it")


class TicketOut(Ticket):
    """A ticket as the agent that created it sees it."""

    decision_reason: str | None = Field(
        default=None, description="The reviewer's reason (rejected) or question (needs_info)")


class DeniedOut(_Body):
    id: None = None
    status: Literal["denied"] = "denied"
    action: str
    rule: str
    reason: str | None
    policy_version: str


class ExecutionIn(_Body):
    args: dict[str, Any] | None = Field(
        default=None, description="The arguments about to run; refused unless they are the "
        "approved ones. Omitted: the approved arguments are returned.")
    action: str | None = Field(
        default=None, description="The action of the tool about to run; refused (409 "
        "action_mismatch) unless it is the approved one. Omitted: the request's own action, "
        "which the receipt names.")


class ExecutionOut(_Body):
    ticket: TicketOut
    args: dict[str, Any]
    args_sha256: str
    receipt: str = Field(description="EdDSA JWT; verify with the keys at /v1/keys")
    receipt_expires_at: datetime


class OutcomeIn(_Body):
    ok: bool
    summary: str | None = Field(default=None, max_length=3000)
    error: str | None = Field(default=None, max_length=3000)


class CancelIn(_Body):
    reason: str = Field(min_length=1, max_length=3000)


class AnswerIn(_Body):
    text: str = Field(min_length=1, max_length=3000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)


class RedeemIn(_Body):
    receipt: str = Field(min_length=1, max_length=4000)


class RedeemOut(_Body):
    redeemed: bool
    ticket_id: str
    action: str
    args_sha256: str
    redeemed_at: datetime


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


class FieldError(_Body):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(_Body):
    """Every error body: a stable ``error`` code and a sentence for a person."""

    error: str = Field(examples=["unauthorized", "action_not_allowed", "not_found"])
    message: str
    fields: list[FieldError] | None = None
    retry_after: float | None = None
