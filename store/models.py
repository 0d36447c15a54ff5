"""Frozen domain objects of the ledger.

These are what ``store`` hands out; SQLAlchemy rows never leave the package.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
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
    BREAK_GLASS = "break_glass"
    """A responder ran the request before anyone approved it (a justification, witnessed
    by a second person later)."""


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
    fallback: tuple[str, ...] = ()
    """``fallback_approvers``: who may decide when every approver is delegated away or
    deactivated, so the request never waits without an owner."""


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
    acting_for: dict[str, str] = Field(default_factory=dict)
    """Approvals in ``approvals`` a delegate gave with someone else's authority:
    approver → the person they acted for (both names are shown and audited)."""

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
    on_behalf_of: str | None = None
    """A delegate's decision: whose authority it was made with."""


MAX_JUSTIFICATION = 3000
"""The longest break-glass justification kept (the modal's input takes no more)."""


class BreakGlass(_Frozen):
    """A request run by break-glass, and its witness (if any yet)."""

    ticket_id: str
    responder: str
    justification: str
    rule: str
    broken_at: datetime
    witness_due_at: datetime
    witnessed_by: str | None = None
    witnessed_at: datetime | None = None
    escalation_level: int = 0
    next_escalation_at: datetime | None = None
    security_channel: str | None = None
    security_ts: str | None = None

    @property
    def witnessed(self) -> bool:
        return self.witnessed_by is not None


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

# -- arguments are plain JSON ------------------------------------------------------------
#
# An approval binds arguments by the hash of their canonical JSON; policy compares them, both
# databases store them and other languages verify them. So before anything is evaluated or
# stored, arguments must be plain I-JSON (RFC 7493): objects with string keys, arrays, strings
# (no unpaired surrogates), booleans, null, finite numbers, and integers a double holds exactly
# (within +/-(2**53 - 1)). Anything else is refused with what to change; nothing is converted
# silently, except that tuples are arrays and mappings are objects.

SAFE_INTEGER = 2**53 - 1
"""The largest integer every JSON reader (a double) holds exactly."""
MAX_DEPTH = 32
"""Nesting deeper than this is refused: no tool needs it, and it exhausts parsers' stacks."""


class NotJson(ValueError):
    """A value that is not plain JSON. The message names where it is and what to do."""

    def __init__(self, path: str, problem: str, fix: str) -> None:
        super().__init__(f"{path or 'the arguments'} {problem}; {fix}")
        self.path = path


def json_args(args: Any) -> dict[str, Any]:
    """``args`` as a plain JSON object (a fresh copy), or :class:`NotJson`."""
    if not isinstance(args, Mapping):
        raise NotJson("", f"are a {type(args).__name__}, not an object",
                      "pass a dict of argument names to values")
    out: dict[str, Any] = _object(args, "", 1)
    return out


def json_value(value: Any, path: str = "value") -> Any:
    """Any plain JSON value (a fresh copy), or :class:`NotJson`."""
    return _value(value, path, 1)


def _value(value: Any, path: str, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _integer(value, path)
    if isinstance(value, float):
        if not math.isfinite(value):
            problem = ("is not a number (NaN)" if math.isnan(value)
                       else "is out of range: JSON numbers must be finite")
            raise NotJson(path, problem, "pass a finite number (or leave the argument out)")
        return float(value)
    if isinstance(value, str):
        return _text(value, path)
    if depth > MAX_DEPTH:
        raise NotJson(path, f"is nested more than {MAX_DEPTH} levels deep",
                      "flatten the arguments")
    if isinstance(value, Mapping):
        return _object(value, path, depth + 1)
    if isinstance(value, list | tuple):
        return [_value(item, f"{path}.{i}", depth + 1) for i, item in enumerate(value)]
    raise NotJson(path, f"is a {type(value).__name__}, which is not JSON",
                  _FIXES.get(type(value).__name__, "pass a string, number, boolean, null, "
                                                    "list or dict instead"))


def _object(value: Mapping[Any, Any], path: str, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise NotJson(f"{path} has key {key!r}" if path else f"key {key!r}",
                          f"of type {type(key).__name__}", "use string keys (JSON objects "
                          "have only string keys)")
        _text(key, f"key {key!r}")
        where = f"{path}.{key}" if path else key
        out[str(key)] = _value(item, where, depth)
    return out


def _integer(value: int, path: str) -> int:
    if -SAFE_INTEGER <= value <= SAFE_INTEGER:
        return int(value)
    digits = len(str(abs(value))) if value.bit_length() < 10_000 else "thousands of"
    shown = f"{value}" if isinstance(digits, int) and digits <= 30 else f"{digits} digits long"
    raise NotJson(path, f"is {shown}, beyond what JSON numbers hold exactly "
                  f"(+/-{SAFE_INTEGER})", "pass it as a string if it is an identifier, or "
                  "use a smaller unit or value")


def _text(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NotJson(path, "contains an unpaired surrogate, which is not text",
                      "decode the text properly (it is not valid Unicode)") from None
    return str(value)


_FIXES = {
    "Decimal": "pass it as a string (exact) or a float",
    "set": "pass a list", "frozenset": "pass a list",
    "bytes": "pass text, or base64-encode the bytes into a string",
    "bytearray": "pass text, or base64-encode the bytes into a string",
    "datetime": "pass an ISO 8601 string (value.isoformat())",
    "date": "pass an ISO 8601 string (value.isoformat())",
    "time": "pass an ISO 8601 string (value.isoformat())",
}


# -- plans: several steps approved on one card (store.plans keeps their progress) ------------

PLAN_ACTION = "signoff.plan"
"""The action of a plan's ticket. Its arguments are ``{"steps": [{"action", "args"}, ...]}``:
what the reviewers approve (and may edit, step by step) is the list itself, bound by hash
like any request. Agents cannot request it directly; it never executes as a whole."""


class PlanStepState(StrEnum):
    REMAINING = "remaining"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"
    """Never ran: a reviewer stopped the plan, or an earlier step failed."""
    EXPIRED = "expired"
    """Never ran: the plan's deadline passed first."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """Started, and never reported within the execution lease: it may or may not have run.
    It never runs again, and the plan halts (a human checks)."""


class PlanStep(_Frozen):
    index: int
    action: str
    args: dict[str, Any]
    state: PlanStepState = PlanStepState.REMAINING
    summary: str | None = None
    error: str | None = None


class PlanProgress(_Frozen):
    """Where an approved plan stands: each step's state, and why the plan ended if it did."""

    ticket_id: str
    steps: tuple[PlanStep, ...]
    ended: str | None = None
    """``done``, ``failed``, ``stopped`` or ``expired``; None while steps may still run."""
    ended_by: str | None = None
    ended_at: datetime | None = None
    deadline: timedelta
    """How long after approval the steps may run."""
    deadline_at: datetime | None = None
    """When unexecuted steps expire (None until the plan is approved)."""

    @property
    def next_index(self) -> int | None:
        """The step that may run now (None when none may)."""
        if self.ended is not None:
            return None
        for step in self.steps:
            if step.state == PlanStepState.RUNNING:
                return None
            if step.state == PlanStepState.REMAINING:
                return step.index
        return None

    def args_for(self, action: str) -> dict[str, Any]:
        """The approved arguments of the first step still to run that is ``action`` (what
        running it without arguments offers; the ledger judges the offer)."""
        for step in self.steps:
            if step.state == PlanStepState.REMAINING and step.action == action:
                return dict(step.args)
        return {}

    def count(self, state: PlanStepState) -> int:
        return sum(1 for s in self.steps if s.state == state)


def plan_steps(args: dict[str, Any]) -> tuple[PlanStep, ...]:
    """The steps of a plan ticket's arguments (``ValueError`` when they are not a plan)."""
    steps = args.get("steps") if set(args) == {"steps"} else None
    if not isinstance(steps, list) or not steps:
        raise ValueError("a plan's arguments are {'steps': [...]} with at least one step")
    out = []
    for i, step in enumerate(steps):
        if (not isinstance(step, dict) or set(step) != {"action", "args"}
                or not isinstance(step["action"], str) or not step["action"]
                or not isinstance(step["args"], dict)):
            raise ValueError(f"step {i + 1} must be {{'action': name, 'args': {{...}}}}")
        out.append(PlanStep(index=i, action=step["action"], args=step["args"]))
    return tuple(out)
