"""Break-glass settings in ``signoff.yml``: the top-level ``break_glass:`` section (where it
is announced, how soon it must be witnessed, who may break glass) and a rule's own
``break_glass:`` (``allowed``, or a mapping that overrides the section for that rule).

A rule may allow break-glass only when it decides ``require_approval``: an action policy
denies can never be forced through, and an allowed one needs nobody (``config_checks``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from escalation.durations import Duration

DEFAULT_WITNESS_WITHIN = timedelta(minutes=15)


def _checked(pattern: str, what: str, fix: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError("signoff", "{message}",
                                      {"message": f"{value!r} is not {what}", "fix": fix})
        return value

    return AfterValidator(check)


ChannelId = Annotated[str, _checked(
    r"[CG][A-Z0-9]{2,}", "a Slack channel id",
    "use the channel id (C…), shown at the bottom of the channel's details; names can change")]
GroupName = Annotated[str, _checked(
    r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", "a reviewers group name",
    "name a group defined under reviewers:")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BreakGlassSection(_Strict):
    """``break_glass:`` at the top level."""

    security_channel: ChannelId
    """Where every break-glass is posted, loudly, with its Witness button (a channel id)."""
    witness_within: Duration = Field(default=DEFAULT_WITNESS_WITHIN,
                                     json_schema_extra={"default": "15m"})
    """A second person must witness a break-glass within this long, or it escalates."""
    responders: GroupName | None = None
    """A reviewers group who may break glass on every rule that allows it; without it, the
    people who may approve the request (its route's approvers, and the on-call engineers
    its chain has DM'd)."""


def _allowed_word(value: Any) -> Any:
    """``break_glass: allowed`` is short for ``{allowed: true}``."""
    if value == "allowed":
        return {"allowed": True}
    if isinstance(value, str | bool):
        raise PydanticCustomError("signoff", "{message}", {
            "message": f"{value!r} is not a break_glass setting",
            "fix": "write break_glass: allowed, or a mapping such as "
                   "{allowed: true, witness_within: 10m, allow_self: false}"})
    return value


class RuleBreakGlass(_Strict):
    """A rule's ``break_glass:``."""

    allowed: Literal[True]
    witness_within: Duration | None = None
    """Overrides ``break_glass.witness_within`` for this rule."""
    allow_self: bool = False
    """Whether the person a request acts for may break glass on it (never by default)."""
    responders: GroupName | None = None
    """Overrides ``break_glass.responders`` for this rule."""


RuleBreakGlassField = Annotated[RuleBreakGlass, BeforeValidator(_allowed_word)]
