"""``signoff.yml``: reviewers, routes, on-call chains and policy rules, validated.

Load it with :func:`load_config` (a path) or :func:`parse_config` (text). Every problem in
the file is collected and raised at once as :class:`ConfigInvalid`, each with file, line,
key path, what is wrong and how to fix it. See ``docs/config.md``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictInt,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from escalation.batching import BatchConfig
from escalation.breakglass_config import BreakGlassSection, RuleBreakGlassField
from escalation.config_checks import DEFAULT_ROUTE, cross_check, rule_label
from escalation.config_errors import (
    ConfigInvalid,
    ConfigNotFound,
    Finding,
    Problem,
    from_validation,
    yaml_problem,
)
from escalation.durations import Duration, format_duration
from escalation.mcp_config import McpConfig
from escalation.predicates import ArgPath, Number, Predicate
from escalation.quality import CanaryRoute, QualityConfig
from escalation.schedules import Schedule
from escalation.yaml_marks import Marks, YamlLimit, load_yaml, path_text
from store.errors import ConfigError
from store.models import ReviewType, RiskTier, Route, canonical_json

__all__ = [
    "Chain", "ConfigInvalid", "ConfigNotFound", "EscalationLevel", "PolicyConfig", "Problem",
    "RouteConfig", "Rule", "SignoffConfig", "config_json_schema", "load_config", "parse_config",
]

_SKIP_CROSS_CHECK = "signoff.skip_cross_check"


class _Pattern:
    """A regular-expression check on a string, with its message, fix and JSON Schema."""

    def __init__(self, pattern: str, what: str, fix: str) -> None:
        self.compiled = re.compile(pattern)
        self.what = what
        self.fix = fix
        self.schema = {"type": "string", "pattern": f"^{pattern}$", "description": fix}

    def __call__(self, value: str) -> str:
        if not self.compiled.fullmatch(value):
            raise PydanticCustomError("signoff", "{message}",
                                      {"message": f"{value!r} is not {self.what}", "fix": self.fix})
        return value


_PRINCIPAL = _Pattern(
    r"[UWS][A-Z0-9]{2,}", "a Slack user or user-group id",
    "use member ids (U…/W…, from a profile's 'Copy member ID') or user-group ids (S…)",
)
_CHANNEL = _Pattern(
    r"[CG][A-Z0-9]{2,}", "a Slack channel id",
    "use the channel id (C…), shown at the bottom of the channel's details; names can change",
)
_NAME = _Pattern(
    r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", "a valid name",
    "use letters, digits, - and _ (up to 64 characters)",
)
_TARGET = _Pattern(
    r"[UWS][A-Z0-9]{2,}|schedule:[A-Za-z0-9][A-Za-z0-9_-]{0,63}",
    "a Slack user id, user-group id or schedule:NAME",
    "use member ids (U…/W…), user-group ids (S…), or schedule:NAME for a schedule defined "
    "under schedules:",
)
SlackPrincipal = Annotated[str, AfterValidator(_PRINCIPAL), WithJsonSchema(_PRINCIPAL.schema)]
NotifyTarget = Annotated[str, AfterValidator(_TARGET), WithJsonSchema(_TARGET.schema)]
ChannelId = Annotated[str, AfterValidator(_CHANNEL), WithJsonSchema(_CHANNEL.schema)]
Name = Annotated[str, AfterValidator(_NAME), WithJsonSchema(_NAME.schema)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _drop_none(data: Any, key: str) -> Any:
    if isinstance(data, dict) and data.get(key, "") is None:
        data.pop(key)
    return data


class EscalationLevel(_Strict):
    """Who is DM'd, after the request has waited ``after`` at the previous level."""

    notify: tuple[NotifyTarget, ...] = Field(min_length=1)
    after: Duration
    round_robin: bool = False
    """DM one of the level's people per request, taking turns, instead of all of them."""


class Chain(_Strict):
    """An on-call chain: reminders, escalation levels, and the deadline (a denial).

    Each level's after counts from the previous level (the first from the request's
    creation). There is deliberately no setting that approves on timeout.
    """

    levels: tuple[EscalationLevel, ...] = ()
    remind_every: Duration | None = None
    expire_after: Duration
    loops: StrictInt = Field(default=1, ge=1, le=10)
    remind_max: StrictInt | None = Field(default=None, ge=0)

    def level_offsets(self) -> tuple[timedelta, ...]:
        """When each level is reached, counted from the request's creation (one pass)."""
        total, offsets = timedelta(0), []
        for level in self.levels:
            total += level.after
            offsets.append(total)
        return tuple(offsets)

    @model_validator(mode="after")
    def _levels_before_expiry(self) -> Chain:
        for number, offset in enumerate(self.level_offsets(), start=1):
            if offset >= self.expire_after:
                raise PydanticCustomError("signoff", "{message}", {
                    "message": f"level {number} would be reached {format_duration(offset)} after "
                               f"the request, but it expires after "
                               f"{format_duration(self.expire_after)}",
                    "fix": "shorten the levels' after delays or raise expire_after "
                           "(each after counts from the previous level)",
                })
        return self


class RouteConfig(_Strict):
    """Where a request is reviewed (channel), by whom (a reviewers group) and its chain."""

    channel: ChannelId
    approvers: Name
    chain: Name
    approvals: StrictInt = Field(default=1, ge=1, le=10)
    fallback_approvers: Name | None = None
    """A reviewers group that receives the card and may decide when every approver is
    delegated away or deactivated, so no request waits without an owner."""


Decide = Literal["allow", "require_approval", "deny"]


def _no_default_allow(value: Any) -> Any:
    if value == "allow":
        raise PydanticCustomError("signoff", "{message}", {
            "message": "policy.default cannot be allow: actions nobody wrote a rule for must "
                       "never run unreviewed",
            "fix": "use require_approval (or deny), and add rules with decide: allow for the "
                   "actions that may run without review",
        })
    return value


class Rule(_Strict):
    """One policy rule: conditions (all must hold) and a decision."""

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    action: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    when: dict[ArgPath, Predicate] = Field(default_factory=dict)
    requested_by: Predicate | None = None
    confidence_below: Annotated[
        Number, Field(gt=0, le=1),
        WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 1}),
    ] | None = None
    decide: Decide
    tier: RiskTier | None = None
    route: Name | None = None
    approvals: Annotated[StrictInt, Field(ge=1, le=10)] | None = None
    review: ReviewType | None = None
    reason: str | None = None
    approvers: Name | None = None
    expire_after: Duration | None = None
    relax: Literal["never"] | None = None
    """``never``: ``signoff policy suggest`` never proposes relaxing this rule."""
    batch: BatchConfig | None = None
    """Show similar requests on one card (see :mod:`escalation.batching`)."""
    break_glass: RuleBreakGlassField | None = None
    """``allowed``: an authorised responder may run a pending request before anyone approves
    it, with a justification, witnessed by a second person (``break_glass:`` section)."""

    @model_serializer(mode="wrap")
    def _without_unset_break_glass(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A rule without break_glass dumps as it did before the setting existed, so the
        # policy's hash (policy_version) and its recorded digest do not change on upgrade.
        return _drop_none(handler(self), "break_glass")


class PolicyConfig(_Strict):
    default: Annotated[Literal["require_approval", "deny"],
                       BeforeValidator(_no_default_allow)] = "require_approval"
    rules: tuple[Rule, ...] = ()

    def rule_names(self) -> tuple[str, ...]:
        return tuple(rule_label(i, r.name, r.action) for i, r in enumerate(self.rules))


class SuggestConfig(_Strict):
    """``suggest:``: how much evidence ``signoff policy suggest`` needs before proposing."""

    min_samples: Annotated[StrictInt, Field(ge=5)] = 50
    """Reviewed requests, all approved unchanged, before relaxing a rule is proposed."""
    recent: Duration = Field(default=timedelta(days=7), json_schema_extra={"default": "7d"})
    """The recent window compared with the rest when looking for rising rejections."""
    tighten_rate: Annotated[float, Field(gt=0, le=1)] = 0.10
    tighten_factor: Annotated[float, Field(ge=1)] = 2.0
    """Tightening is proposed when the recent edit-or-reject rate is at least
    ``tighten_rate`` and ``tighten_factor`` times the rate before."""
    tighten_min_samples: Annotated[StrictInt, Field(ge=1)] = 10


class CandidatePolicy(PolicyConfig):
    """A policy evaluated beside the live one on every request, never deciding anything
    (``signoff policy shadow-report`` shows where the two disagree)."""

    policy_version: str = "candidate"


def _version_text(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value.isoformat() if isinstance(value, date) else str(value)
    return value


class SignoffConfig(_Strict):
    """The whole of ``signoff.yml``."""

    version: Literal[1]
    policy_version: Annotated[str, BeforeValidator(_version_text)] = ""
    """Recorded on every ticket and decision; when left out, a hash of the configuration."""
    sweep_every: Duration = Field(default=timedelta(seconds=15),
                                  json_schema_extra={"default": "15s"})
    execution_lease: Duration = Field(default=timedelta(minutes=15),
                                      json_schema_extra={"default": "15m"})
    """How long an approved action may run before, with no outcome reported, the sweep marks
    its ticket ``outcome_unknown`` for a human to resolve (it never re-runs)."""
    plan_deadline: Duration = Field(default=timedelta(hours=1),
                                    json_schema_extra={"default": "1h"})
    """How long after its approval a plan's steps may run; steps not started by then expire
    (``request_plan(deadline=...)`` may ask for less, never more)."""
    reviewers: dict[Name, tuple[SlackPrincipal, ...]] = Field(default_factory=dict)
    routes: dict[Name, RouteConfig] = Field(default_factory=dict)
    chains: dict[Name, Chain] = Field(default_factory=dict)
    schedules: dict[Name, Schedule] = Field(default_factory=dict)
    policy: PolicyConfig = PolicyConfig()
    policy_candidate: CandidatePolicy | None = None
    """A candidate policy, shadow-evaluated on every request; it never decides."""
    quality: QualityConfig = QualityConfig()
    suggest: SuggestConfig = SuggestConfig()
    """Evidence thresholds for ``signoff policy suggest``."""
    """Rubber-stamp thresholds for ``signoff stats`` (see docs/quality.md)."""
    canaries: dict[Name, CanaryRoute] = Field(default_factory=dict)
    """Per route: test requests that must be rejected, injected among real ones."""
    mcp: McpConfig = McpConfig()
    """The MCP servers ``signoff mcp-proxy`` fronts."""
    break_glass: BreakGlassSection | None = None
    """Where break-glass is announced, how soon it must be witnessed, who may break glass."""

    @model_serializer(mode="wrap")
    def _without_unset_break_glass(self, handler: SerializerFunctionWrapHandler) -> Any:
        return _drop_none(handler(self), "break_glass")

    @model_validator(mode="after")
    def _canary_routes(self) -> SignoffConfig:
        unknown = sorted(set(self.canaries) - set(self.routes))
        if unknown:
            raise PydanticCustomError("signoff", "{message}", {
                "message": f"canaries for unknown route(s) {', '.join(unknown)}",
                "fix": f"use a route defined under routes: "
                       f"({', '.join(sorted(self.routes)) or 'none'})"})
        return self

    @model_validator(mode="after")
    def _known_schedules(self) -> SignoffConfig:
        for chain in self.chains.values():
            for level in chain.levels:
                for target in level.notify:
                    name = target.removeprefix("schedule:")
                    if name != target and name not in self.schedules:
                        raise PydanticCustomError("signoff", "{message}", {
                            "message": f"unknown schedule {name!r} in a chain's notify",
                            "fix": f"define it under schedules: (defined: "
                                   f"{', '.join(sorted(self.schedules)) or 'none'})",
                        })
        return self

    @model_validator(mode="after")
    def _check_and_stamp(self, info: ValidationInfo) -> SignoffConfig:
        if not (info.context or {}).get(_SKIP_CROSS_CHECK):
            findings = cross_check(self.model_dump(by_alias=True))
            if findings:
                raise PydanticCustomError("signoff", "{message}", {
                    "message": "; ".join(str(f.place("config", None)) for f in findings),
                    "fix": "see each problem",
                })
        if not self.policy_version:
            digest = hashlib.sha256(canonical_json(self.model_dump(
                mode="json", exclude={"quality", "policy_candidate", "suggest"})).encode())
            object.__setattr__(self, "policy_version", "sha256:" + digest.hexdigest()[:12])
        return self

    def group(self, name: str) -> tuple[str, ...]:
        """The Slack user / user-group ids of a reviewers group."""
        if name not in self.reviewers:
            raise ConfigError(f"unknown reviewer group {name!r}; "
                              f"defined: {', '.join(sorted(self.reviewers)) or 'none'}")
        return self.reviewers[name]

    def route(self, name: str = DEFAULT_ROUTE) -> Route:
        """A route resolved for a ticket: approvers group expanded to ids."""
        if name not in self.routes:
            raise ConfigError(f"unknown route {name!r}; "
                              f"defined: {', '.join(sorted(self.routes)) or 'none'}")
        config = self.routes[name]
        fallback = (self.group(config.fallback_approvers)
                    if config.fallback_approvers else ())
        return Route(name=name, channel=config.channel, approvers=self.group(config.approvers),
                     approvals_required=config.approvals, chain=config.chain,
                     fallback=fallback)

    def chain(self, name: str) -> Chain:
        if name not in self.chains:
            raise ConfigError(f"unknown chain {name!r}; "
                              f"defined: {', '.join(sorted(self.chains)) or 'none'}")
        return self.chains[name]


def parse_config(text: str, source: str = "<string>",
                 warnings: list[Problem] | None = None) -> SignoffConfig:
    """Validate configuration text; ``source`` names it in error messages. ``warnings``, if
    given, receives what is valid but probably not meant (placed like problems)."""
    try:
        data, marks = load_yaml(text)
    except YamlLimit as exc:
        raise ConfigInvalid([Problem(source, exc.line, path_text(exc.path), exc.message,
                                     exc.fix)]) from None
    except yaml.YAMLError as exc:
        raise ConfigInvalid([yaml_problem(source, exc)]) from None
    if not isinstance(data, dict):
        raise ConfigInvalid([Problem(
            source, marks.line(()), "",
            "the file is empty" if data is None else "the file must be a mapping of settings",
            "start from the example in docs/config.md (version: 1, reviewers, routes, "
            "chains, policy)",
        )])
    findings = [Finding(path, f"duplicate key {path[-1]!r}; YAML keeps only the last one",
                        "merge the two entries") for path, _ in marks.duplicates]
    findings += cross_check(data)
    try:
        config = SignoffConfig.model_validate(data, context={_SKIP_CROSS_CHECK: True})
    except ValidationError as exc:
        findings = from_validation(exc.errors(), SignoffConfig) + findings
    if findings:
        raise ConfigInvalid(_placed(findings, source, marks))
    if warnings is not None:
        from escalation.deadlines import expiry_findings  # it builds on this module

        warnings += _placed(expiry_findings(config), source, marks)
    return config


def _placed(findings: list[Finding], source: str, marks: Marks) -> list[Problem]:
    problems = [f.place(source, marks) for f in findings]
    return sorted(problems, key=lambda p: p.line if p.line is not None else 0)


def load_config(path: str | Path, warnings: list[Problem] | None = None) -> SignoffConfig:
    """Read and validate a configuration file (``SIGNOFF_CONFIG``, ``signoff.yml`` by default);
    ``warnings``, if given, receives the file's warnings."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigNotFound(str(file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigInvalid([Problem(str(file), None, "", f"cannot read the file: {reason}",
                                     "check the path, its permissions and its encoding")]) from None
    return parse_config(text, str(file), warnings)


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``signoff.yml``, for editor completion and CI checks."""
    schema = SignoffConfig.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "signoff.yml", **{k: v for k, v in schema.items() if k != "title"}}
