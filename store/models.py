"""Frozen domain objects of the ledger.

These are what ``store`` hands out; SQLAlchemy rows never leave the package.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TicketStatus(StrEnum):
    PENDING = "pending"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    TAKEN_OVER = "taken_over"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"
    OUTCOME_UNKNOWN = "outcome_unknown"
    """Execution started and never reported back within its lease: a human must find out
    what happened and resolve it. Never run again automatically."""

    @property
    def is_open(self) -> bool:
        """Still waiting for a human (the escalation engine watches these)."""
        return self in (TicketStatus.PENDING, TicketStatus.NEEDS_INFO)


class ReviewType(StrEnum):
    APPROVAL = "approval"
    EDIT = "edit"
    ESCALATION = "escalation"


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(RiskTier).index(self)


class DecisionKind(StrEnum):
    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"
    REQUEST_INFO = "request_info"
    TAKE_OVER = "take_over"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(_Frozen):
    """One item the agent offers in support of its request."""

    title: str
    url: str | None = None
    detail: str | None = None


class Route(_Frozen):
    """Where a ticket is reviewed and by whom, resolved from config at creation."""

    name: str = "default"
    channel: str
    approvers: tuple[str, ...] = ()
    """Slack user ids (``U…``/``W…``) or user-group ids (``S…``)."""
    approvals_required: int = Field(default=1, ge=1, le=10)
    chain: str | None = None


_USER_GROUP_ID = re.compile(r"S[A-Z0-9]{2,40}")


def is_user_group(principal: str) -> bool:
    """Whether an approver or on-call target is a Slack user group (``S…``), whose members
    stand for it, rather than one user (``U…``/``W…``)."""
    return _USER_GROUP_ID.fullmatch(principal) is not None


class SlackRef(_Frozen):
    """A message signoff posted about a ticket: the card, a DM, a thread reply."""

    role: str  # "card", "dm", ...
    channel: str
    ts: str
    user: str | None = None
    epoch: int | None = None
    """For an on-call DM: the escalation epoch whose chain sent it (an edit that moved the
    ticket turned older DMs into pointers, which are never re-rendered as live cards)."""


class Outcome(_Frozen):
    """What happened when the approved action ran."""

    ok: bool
    summary: str | None = None
    error: str | None = None
    at: datetime


class NewTicket(_Frozen):
    """What the caller supplies to open a ticket. Times default to the database's clock."""

    action: str = Field(min_length=1, max_length=200)
    args: dict[str, Any] = Field(default_factory=dict)
    review_type: ReviewType = ReviewType.APPROVAL
    summary: str | None = None
    reason: str = ""
    evidence: tuple[Evidence, ...] = ()
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    requested_by: str
    agent: str | None = None
    run_id: str | None = None
    idempotency_key: str | None = Field(default=None, max_length=200)
    tier: RiskTier = RiskTier.MEDIUM
    route: Route
    policy_version: str
    policy_rule: str | None = None
    status: TicketStatus = TicketStatus.PENDING
    """``approved`` for actions policy allows outright (audited, never reviewed)."""
    expires_at: datetime
    next_action_at: datetime | None = None
    escalation: dict[str, Any] | None = None
    """The on-call chain resolved at creation, so config changes never rewrite it."""
    args_schema: dict[str, Any] | None = None
    """JSON Schema of the tool's argument model: the bot builds the edit form from it."""


class Ticket(_Frozen):
    id: str
    idempotency_key: str | None
    action: str
    args: dict[str, Any]
    args_hash: str
    final_args: dict[str, Any]
    """The arguments that will run: the proposed ones, or a reviewer's edit."""
    final_args_hash: str
    review_type: ReviewType
    summary: str | None
    reason: str
    evidence: tuple[Evidence, ...]
    confidence: float | None
    requested_by: str
    agent: str | None
    run_id: str | None
    tier: RiskTier
    route: Route
    policy_version: str
    policy_rule: str | None
    status: TicketStatus
    version: int
    approvals: tuple[str, ...]
    """Reviewers whose approval counts toward ``final_args`` (distinct people)."""
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    expires_at: datetime
    next_action_at: datetime | None
    escalation_level: int
    escalation_loop: int
    escalation: dict[str, Any] | None
    escalation_epoch: int = 0
    """How many times an edit re-routed the ticket (its chain was planned anew each time)."""
    args_schema: dict[str, Any] | None = None
    card: SlackRef | None
    messages: tuple[SlackRef, ...] = ()
    outcome: Outcome | None = None
    canary: str | None = Field(default=None, exclude=True)
    """The canary this test request is (None for real requests). Never serialised: an agent
    must not be able to tell, and never receives a canary anyway."""
    canary_lesson: str | None = Field(default=None, exclude=True)
    """What a reviewer should have noticed, told privately after a missed canary."""
    shown_version: int | None = None
    """The ticket version every live surface (the card, the current chain's DMs) was last
    rendered at; behind ``version`` means a surface is stale and the sweep re-renders it."""
    execution_lease_until: datetime | None = None
    """While executing: when the executor's time to report its outcome runs out."""

    @property
    def edited(self) -> bool:
        return self.final_args_hash != self.args_hash


class Decision(_Frozen):
    id: int
    ticket_id: str
    reviewer: str
    kind: DecisionKind
    reason: str | None
    args: dict[str, Any] | None
    args_hash: str | None
    at: datetime
    policy_version: str


class AuditEvent(_Frozen):
    seq: int
    """Unique and increasing as events are written (not gapless, not the commit order)."""
    ticket_id: str | None
    kind: str
    actor: str
    at: datetime
    data: dict[str, Any]
    prev_hash: str
    """The previous event of the same ticket (genesis for its first, and ticketless ones)."""
    hash: str
    ticket_seq: int | None = None
    """1, 2, 3… within the ticket."""
    seal: int | None = None
    """Its place in the global chain, once the sealer has sealed it."""


def canonical_json(value: Any) -> str:
    """One spelling for equal values: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


def args_hash(args: dict[str, Any]) -> str:
    """The hash an approval binds to: sha256 over the canonical JSON of the arguments."""
    return hashlib.sha256(canonical_json(args).encode("utf-8")).hexdigest()


_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_ticket_id() -> str:
    """``t`` + 26 Crockford base32 chars: time-ordered, URL- and Slack-value-safe."""
    n = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[n & 31])
        n >>= 5
    return "t" + "".join(reversed(chars))
