"""The agent's door: a request is checked here before policy sees it or anything is stored.

So both databases accept and refuse exactly the same requests, policy only ever compares
plain JSON values, and every refusal is an :class:`InvalidRequest` (``InvalidArguments`` for
the arguments) whose message says which field is wrong and what to change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from bot.agent.backend import ApprovalRequest
from bot.agent.errors import InvalidArguments, InvalidRequest
from store.models import PLAN_ACTION, Evidence, NotJson, json_args

SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,63}")
"""A Slack user id as Slack spells it (``U…`` or, on Enterprise Grid, ``W…``)."""


def slack_user_id(value: Any) -> str:
    """``value`` as a Slack user id: surrounding space removed, upper-cased, then checked."""
    if not isinstance(value, str):
        raise PydanticCustomError("signoff", "{message}", {"message": (
            f"must be a Slack user id string, got a {type(value).__name__}")})
    normal = value.strip().upper()
    if not SLACK_USER_ID.fullmatch(normal):
        raise PydanticCustomError("signoff", "{message}", {"message": (
            f"{value!r} is not a Slack user id; pass the id of the person the agent acts "
            "for, e.g. U012AB3CD (a user, not a name, channel or user group)")})
    return normal


def _plain_text(value: str) -> str:
    """Text both databases store alike: no NUL, no unpaired surrogates."""
    if "\x00" in value:
        raise PydanticCustomError("signoff", "{message}", {"message": (
            "contains a NUL character (\\x00), which text cannot hold; remove it")})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("signoff", "{message}", {"message": (
            "contains an unpaired surrogate, which is not text; decode it properly")}) from None
    return value


def _plain_evidence(items: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    for item in items:
        for text in (item.title, item.url, item.detail):
            if text is not None:
                _plain_text(text)
    return items


Text = Annotated[StrictStr, AfterValidator(_plain_text)]
SlackUser = Annotated[str, BeforeValidator(slack_user_id)]


class RequestIn(BaseModel):
    """What ``ApprovalClient.request`` accepts, besides the arguments."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    action: Annotated[Text, Field(min_length=1, max_length=200)]
    reason: Text = ""
    requested_by: SlackUser
    summary: Text | None = None
    evidence: Annotated[tuple[Evidence, ...], AfterValidator(_plain_evidence)] = ()
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    agent: Annotated[Text, Field(max_length=200)] | None = None
    run_id: Annotated[Text, Field(max_length=200)] | None = None
    idempotency_key: Annotated[Text, Field(min_length=1, max_length=200)] | None = None


def checked(request: ApprovalRequest) -> ApprovalRequest:
    """The whole request checked, ``requested_by`` normalised; :class:`InvalidRequest` (or
    :class:`InvalidArguments`) otherwise. Checking a checked request changes nothing."""
    if request.action == PLAN_ACTION:
        raise InvalidRequest(PLAN_ACTION, "a plan is asked for with request_plan(steps=...) "
                                          "(POST /v1/plans), which checks each step with "
                                          "policy; it cannot be requested as an action")
    fields = checked_request(request.action, reason=request.reason,
                             requested_by=request.requested_by, summary=request.summary,
                             evidence=request.evidence, confidence=request.confidence,
                             agent=request.agent, run_id=request.run_id,
                             idempotency_key=request.idempotency_key)
    if request.open_cap is not None and (request.open_cap < 1 or request.agent is None):
        raise InvalidRequest(request.action, f"open_cap {request.open_cap}: must be at least "
                                             "1, and the request must name its agent")
    return ApprovalRequest(**dict(fields), args=checked_args(fields.action, request.args),
                           args_schema=request.args_schema,
                           annotations=checked_args(fields.action, request.annotations),
                           open_cap=request.open_cap)


def checked_request(action: Any, **fields: Any) -> RequestIn:
    """The request's fields, validated (requested_by normalised), or :class:`InvalidRequest`."""
    try:
        return RequestIn(action=action, **fields)
    except ValidationError as exc:
        raise InvalidRequest(str(action), readable(exc)) from None


def checked_args(action: str, args: Any) -> dict[str, Any]:
    """``args`` as plain JSON, or :class:`InvalidArguments` saying what to change."""
    try:
        return json_args(args)
    except NotJson as exc:
        raise InvalidArguments(action, str(exc)) from None
    except RecursionError:  # a self-containing structure deeper than the interpreter allows
        raise InvalidArguments(action, "the arguments are nested too deeply; flatten "
                                       "them") from None


def checked_evidence(action: str, evidence: Sequence[Any]) -> tuple[Evidence, ...]:
    try:
        return tuple(Evidence.model_validate(e) for e in evidence)
    except (ValidationError, TypeError) as exc:
        detail = readable(exc) if isinstance(exc, ValidationError) else str(exc)
        raise InvalidRequest(action, f"evidence: {detail}") from None


def readable(exc: ValidationError) -> str:
    """A pydantic error as ``field: what is wrong`` parts, without pydantic's links."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error.get("loc", ())) or "request"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
