"""Reviewer corrections as evaluation cases (``signoff eval export``).

One case per real request a reviewer edited, rejected, took over or questioned: what the
agent proposed and why, what the reviewer changed (a structured diff) or said, what policy
rule applied, and how execution ended. The shape is :class:`EvalCase`, whose JSON Schema
(``signoff eval schema``; docs/eval-case.v1.schema.json) is versioned by
``schema_version``: fields may be added within a version, never renamed or removed.

Secrets stay masked exactly as on the card (the same :class:`Redactor`); ``redact`` also
drops every free-text field (summary, reason, evidence, reviewers' reasons, outcome text).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.render.values import MASK, Redactor
from store.models import DecisionKind, Ticket, TicketStatus
from store.stats import Correction

SchemaVersion = Literal["signoff.eval/1"]
SCHEMA_VERSION: SchemaVersion = "signoff.eval/1"

CaseKind = Literal["edited", "rejected", "taken_over", "info_requested"]
_KIND_OF = {DecisionKind.EDIT: "edited", DecisionKind.REJECT: "rejected",
            DecisionKind.TAKE_OVER: "taken_over", DecisionKind.REQUEST_INFO: "info_requested"}
_PRECEDENCE = ("rejected", "taken_over", "edited", "info_requested")


class _Case(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid",
                              json_schema_serialization_defaults_required=True)


class EvidenceItem(_Case):
    title: str
    url: str | None = None
    detail: str | None = None


class Request(_Case):
    """What the agent proposed, as the reviewer saw it (secrets masked)."""

    action: str
    args: dict[str, Any]
    review_type: Literal["approval", "edit", "escalation"]
    summary: str | None = Field(description="null when exported with --redact")
    reason: str | None = Field(description="the agent's why; null when exported with --redact")
    evidence: list[EvidenceItem] | None = Field(description="null when exported with --redact")
    confidence: float | None
    agent: str | None
    run_id: str | None
    requested_by: str


class Change(_Case):
    """One difference between the proposed and the approved arguments."""

    path: str = Field(description="JSON Pointer into the arguments, e.g. /body")
    op: Literal["add", "remove", "replace"]
    before: Any = None
    after: Any = None


class ReviewStep(_Case):
    kind: Literal["approve", "edit", "reject", "request_info", "take_over"]
    reviewer: str
    reason: str | None = Field(description="null when exported with --redact")
    at: datetime


class Review(_Case):
    decisions: list[ReviewStep]
    diff: list[Change] = Field(description="proposed → approved arguments; empty unless edited")
    final_args: dict[str, Any] = Field(description="the arguments approved to run (masked)")


class Policy(_Case):
    version: str
    rule: str | None
    tier: Literal["low", "medium", "high", "critical"]
    route: str


class Outcome(_Case):
    status: str = Field(description="the request's final status in the ledger")
    executed: bool
    ok: bool | None
    summary: str | None = Field(description="null when exported with --redact")
    error: str | None = Field(description="null when exported with --redact")


class EvalCase(_Case):
    """One reviewer correction, usable as a regression case."""

    schema_version: SchemaVersion = SCHEMA_VERSION
    id: str = Field(description="the ticket id (stable; use it as the case id)")
    kind: CaseKind = Field(description="the strongest correction: rejected > taken_over > "
                                       "edited > info_requested")
    created_at: datetime
    request: Request
    review: Review
    policy: Policy
    outcome: Outcome


def eval_case(correction: Correction, *, redact: bool = False) -> EvalCase:
    t = correction.ticket
    red = Redactor.for_ticket(t)

    def text(value: str | None) -> str | None:
        return None if redact or value is None else red.text(value)

    args, final = _scrub(red, t.args), _scrub(red, t.final_args)
    kinds = {_KIND_OF[d.kind] for d in correction.decisions if d.kind in _KIND_OF}
    return EvalCase(
        id=t.id, kind=next(k for k in _PRECEDENCE if k in kinds),
        created_at=t.created_at,
        request=Request(
            action=t.action, args=args, review_type=t.review_type.value, summary=text(t.summary),
            reason=text(t.reason),
            evidence=None if redact else [EvidenceItem(title=red.text(e.title),
                                                       url=e.url, detail=text(e.detail))
                                          for e in t.evidence],
            confidence=t.confidence, agent=t.agent, run_id=t.run_id,
            requested_by=t.requested_by),
        review=Review(decisions=[ReviewStep(kind=d.kind.value, reviewer=d.reviewer,
                                            reason=text(d.reason), at=d.at)
                                 for d in correction.decisions],
                      diff=[_masked(c, red) for c in diff(t.args, t.final_args)],
                      final_args=final),
        policy=Policy(version=t.policy_version, rule=t.policy_rule, tier=t.tier.value,
                      route=t.route.name),
        outcome=_outcome(t, text))


def _outcome(t: Ticket, text: Any) -> Outcome:
    ran = t.status in (TicketStatus.EXECUTED, TicketStatus.FAILED)
    return Outcome(status=t.status.value, executed=ran,
                   ok=t.outcome.ok if t.outcome else None,
                   summary=text(t.outcome.summary) if t.outcome else None,
                   error=text(t.outcome.error) if t.outcome else None)


def diff(before: Any, after: Any, path: str = "") -> list[Change]:
    """The structured difference of two JSON values (objects compared key by key)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[Change] = []
        for key in sorted(set(before) | set(after), key=str):
            where = f"{path}/{_pointer(str(key))}"
            if key not in after:
                out.append(Change(path=where, op="remove", before=before[key]))
            elif key not in before:
                out.append(Change(path=where, op="add", after=after[key]))
            else:
                out += diff(before[key], after[key], where)
        return out
    if before == after:
        return []
    return [Change(path=path or "/", op="replace", before=before, after=after)]


def _masked(change: Change, red: Redactor) -> Change:
    """A change with secrets masked: a secret key anywhere on its path hides both values
    (that it changed still shows); otherwise as the card masks values."""
    keys = [k.replace("~1", "/").replace("~0", "~") for k in change.path.split("/")[1:]]
    secret = any(red.is_secret(k) for k in keys)

    def mask(value: Any) -> Any:
        if value is None:
            return None
        if secret:
            return MASK
        return _scrub(red, value)

    return change.model_copy(update={"before": mask(change.before), "after": mask(change.after)})


def _scrub(red: Redactor, value: Any) -> Any:
    """Values under secret keys masked, and secret values blotted out of every string."""
    return _texts(red, red.value(value))


def _texts(red: Redactor, value: Any) -> Any:
    if isinstance(value, str):
        return red.text(value)
    if isinstance(value, dict):
        return {k: _texts(red, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_texts(red, v) for v in value]
    return value


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def eval_case_schema() -> dict[str, Any]:
    """The versioned JSON Schema of one exported case (one line of the JSONL)."""
    schema = EvalCase.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://signoff.dev/schemas/eval-case.v1.json", **schema}


__all__ = ["SCHEMA_VERSION", "EvalCase", "diff", "eval_case", "eval_case_schema"]
