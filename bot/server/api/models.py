"""The HTTP API's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from store.models import Evidence, Ticket


class Body(BaseModel):
    """A request body: unknown fields are an error, not ignored."""

    model_config = ConfigDict(extra="forbid")


# The fields a request and a plan share, with their bounds, defined once.
Action = Annotated[str, Field(min_length=1, max_length=200, examples=["issue_refund"])]
Args = Annotated[dict[str, Any], Field(default_factory=dict, examples=[{"amount": 120}])]
Reason = Annotated[str, Field(min_length=1, max_length=3000)]
RequestedBy = Annotated[str, Field(min_length=1, max_length=64,
                                   description="Slack user id of the person the agent acts for")]
Summary = Annotated[str | None, Field(max_length=3000)]
EvidenceList = Annotated[list[Evidence], Field(default_factory=list, max_length=20)]
Confidence = Annotated[float | None, Field(ge=0.0, le=1.0)]
RunId = Annotated[str | None, Field(max_length=200)]
IdempotencyKey = Annotated[str | None, Field(max_length=150)]


class RequestIn(Body):
    """The same fields as ``ApprovalClient.request``."""

    action: Action
    args: Args
    reason: Reason
    requested_by: RequestedBy
    summary: Summary = None
    evidence: EvidenceList
    confidence: Confidence = None
    run_id: RunId = None
    idempotency_key: IdempotencyKey = None
    args_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of the tool's arguments: the edit form's fields")
    annotations: dict[str, Any] = Field(
        default_factory=dict, description="The tool's MCP annotations (destructiveHint...), "
        "for rules on annotations.*; set by signoff mcp-proxy from the tool's server. "
        "They loosen policy (allow rules) only from a token added with "
        "--trusted-annotations; from any other token they can only tighten it")
    claim: bool = Field(
        default=False, description="When policy allows the call outright, also claim it for "
        "execution in the same step (one call instead of this one and POST "
        "/v1/requests/{id}/execution): the answer is then that claim's (ticket, args, "
        "receipt). Anything else (pending, a standing grant, a retry of an earlier "
        "request) is answered and claimed as without it")


class TicketOut(Ticket):
    """A ticket as the agent that created it sees it."""

    decision_reason: str | None = Field(
        default=None, description="The reviewer's reason (rejected) or question (needs_info)")


class DeniedOut(Body):
    id: None = None
    status: Literal["denied"] = "denied"
    action: str
    rule: str
    reason: str | None
    policy_version: str


class ExecutionIn(Body):
    args: dict[str, Any] | None = Field(
        default=None, description="The arguments about to run; refused unless they are the "
        "approved ones. Omitted: the approved arguments are returned.")
    action: str | None = Field(
        default=None, description="The action of the tool about to run; refused (409 "
        "action_mismatch) unless it is the approved one. Omitted: the request's own action, "
        "which the receipt names.")


class ExecutionOut(Body):
    ticket: TicketOut
    args: dict[str, Any]
    args_sha256: str
    receipt: str = Field(description="EdDSA JWT; verify with the keys at /v1/keys")
    receipt_expires_at: datetime


class OutcomeIn(Body):
    ok: bool
    summary: str | None = Field(default=None, max_length=3000)
    error: str | None = Field(default=None, max_length=3000)


class CancelIn(Body):
    reason: str = Field(min_length=1, max_length=3000)


class AnswerIn(Body):
    text: str = Field(min_length=1, max_length=3000)
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)


class RedeemIn(Body):
    receipt: str = Field(min_length=1, max_length=4000)


class RedeemOut(Body):
    redeemed: bool
    ticket_id: str
    action: str
    args_sha256: str
    redeemed_at: datetime


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


class FieldError(Body):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(Body):
    """Every error body: a stable ``error`` code and a sentence for a person."""

    error: str = Field(examples=["unauthorized", "action_not_allowed", "not_found"])
    message: str
    fields: list[FieldError] | None = None
    retry_after: float | None = None
