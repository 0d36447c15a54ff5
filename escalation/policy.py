"""Deterministic policy: a proposed action in, ``allow`` / ``require_approval`` / ``deny`` out.

Every rule is checked; **the most severe match wins**: deny > require_approval > allow. Among
matches with the same decision the highest tier wins, and a tie goes to the earlier rule.
So a broad ``allow`` can never undo a ``deny`` or a ``require_approval`` written anywhere in
the file. Actions no rule matches get ``policy.default`` (require_approval or deny, never allow).
"""

from __future__ import annotations

import json
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from escalation.chains import effective_expiry
from escalation.config import Rule, SignoffConfig
from escalation.config_checks import DEFAULT_ROUTE
from escalation.deadlines import ends_first
from escalation.durations import format_duration
from escalation.predicates import Predicate, lookup
from store.models import ReviewType, RiskTier, Route

Decision = Literal["allow", "require_approval", "deny"]
SEVERITY: dict[str, int] = {"allow": 0, "require_approval": 1, "deny": 2}
DEFAULT_RULE = "policy.default"
REQUESTED_BY = "requested_by"


class Proposal(BaseModel):
    """What an agent wants to do, as policy sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str = Field(min_length=1, max_length=200)
    args: dict[str, Any] = Field(default_factory=dict)
    requested_by: str
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    annotations: dict[str, Any] = Field(default_factory=dict)
    """What the tool's server says about it (MCP ``readOnlyHint``, ``destructiveHint``...),
    set by ``signoff mcp-proxy`` from the upstream's tools/list, never from the arguments.
    Rules read it as ``annotations.<name>``."""


class PolicyOutcome(BaseModel):
    """The decision, the rule that produced it, and everything a ticket needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: Decision
    rule: str
    """The winning rule's name, or ``policy.default`` when no rule matched."""
    matched: tuple[str, ...]
    """Every rule that matched, in file order."""
    reason: str | None
    tier: RiskTier = RiskTier.MEDIUM
    review: ReviewType = ReviewType.APPROVAL
    route: Route | None = None
    """Resolved route (approvers expanded, approvals_required set); only for require_approval."""
    chain: str | None = None
    expire_after: timedelta | None = None
    """The real deadline, counted from creation: the earlier of expire_after and the end of
    the chain (what the ticket is given)."""
    expiry_note: str | None = None
    """Set when the end of the chain pre-empts expire_after, saying so."""
    policy_version: str

    @field_serializer("expire_after", when_used="json")
    def _duration(self, value: timedelta | None) -> str | None:
        return None if value is None else format_duration(value)


ANNOTATIONS = "annotations."
ANNOTATIONS_KEY = "x-mcp-annotations"
"""Where a ticket keeps the annotations policy saw: in its ``args_schema`` (a JSON Schema
extension keyword), so an edit is re-checked against the same annotations."""


UNTRUSTED = "signoff:untrusted"
"""Marks annotations no trusted party vouches for: from an upstream MCP server not marked
``trust_annotations``, or sent by an agent token not allowed to vouch for them. A server
describes its own tools, so its word may tighten policy (a deny or a review on
``destructiveHint``) but never loosen it: an ``allow`` rule reading ``annotations.*`` does
not match them (the MCP specification: annotations are untrusted unless the server is)."""


def untrusted(annotations: dict[str, Any]) -> dict[str, Any]:
    """The same annotations, marked as no trusted party's word."""
    return {**annotations, UNTRUSTED: True} if annotations else {}


def trusted(annotations: dict[str, Any]) -> bool:
    return annotations.get(UNTRUSTED) is not True


def recorded_annotations(args_schema: dict[str, Any] | None) -> dict[str, Any]:
    found = (args_schema or {}).get(ANNOTATIONS_KEY)
    return dict(found) if isinstance(found, dict) else {}


def with_annotations(args_schema: dict[str, Any] | None,
                     annotations: dict[str, Any]) -> dict[str, Any] | None:
    """The schema to store, keeping exactly the annotations policy saw: a caller's schema
    that carries the keyword itself never speaks for the tool's server."""
    own = {k: v for k, v in (args_schema or {}).items() if k != ANNOTATIONS_KEY}
    if not annotations:
        return own if args_schema is not None else None
    return {**own, ANNOTATIONS_KEY: annotations}


def mismatch(rule: Rule, proposal: Proposal) -> str | None:
    """``None`` when every condition of ``rule`` holds for ``proposal``, else why not.

    Restrictive rules (deny, require_approval) fail closed: a condition that cannot compare
    its value (``"1e400"`` against ``gt: 1000``) holds for them, and never for ``allow``.
    """
    if rule.action is not None and not fnmatchcase(proposal.action, rule.action):
        return f"action {proposal.action!r} does not match {rule.action!r}"
    fail_closed = rule.decide != "allow"
    reads_annotations = any(path.startswith(ANNOTATIONS) for path in rule.when)
    if not fail_closed and reads_annotations and not trusted(proposal.annotations):
        return ("the tool's annotations come from a server nobody vouches for "
                "(trust_annotations), so they never allow")
    for path, predicate in _conditions(rule, proposal):
        why = predicate.mismatch(path, _value(proposal, path), fail_closed=fail_closed)
        if why:
            return why
    return _confidence_mismatch(rule, proposal)


def _conditions(rule: Rule, proposal: Proposal) -> list[tuple[str, Predicate]]:
    """The rule's argument conditions and its requested_by condition, by subject."""
    found = list(rule.when.items())
    if rule.requested_by is not None:
        found.append((REQUESTED_BY, rule.requested_by))
    return found


def _value(proposal: Proposal, path: str) -> Any:
    """``annotations.*`` reads the tool's annotations, so an argument named ``annotations``
    cannot pose as them; the requested_by condition reads who the agent acts for; every
    other path reads the arguments."""
    if path == REQUESTED_BY:
        return proposal.requested_by
    if path.startswith(ANNOTATIONS):
        return lookup(proposal.annotations, path[len(ANNOTATIONS):])
    return lookup(proposal.args, path)


def fail_closed_notes(rule: Rule, proposal: Proposal) -> list[str]:
    """For a restrictive rule that matched: conditions counted as holding because they
    could not compare their value (what ``policy explain`` shows)."""
    if rule.decide == "allow":
        return []
    notes = [predicate.uncomparable(path, _value(proposal, path))
             for path, predicate in _conditions(rule, proposal)]
    return [f"{note}: counted as a match (fail closed)" for note in notes if note]


def _confidence_mismatch(rule: Rule, proposal: Proposal) -> str | None:
    limit = rule.confidence_below
    if limit is None:
        return None
    if proposal.confidence is None:
        return f"no confidence given, so confidence_below {limit:g} does not apply"
    if proposal.confidence >= limit:
        return f"confidence {proposal.confidence:g} is not below {limit:g}"
    return None


def _severity(indexed: tuple[int, Rule]) -> tuple[int, int, int]:
    index, rule = indexed
    return SEVERITY[rule.decide], (rule.tier or RiskTier.MEDIUM).rank, -index


class Policy:
    """Evaluates proposals against a validated configuration. Pure; creates nothing."""

    def __init__(self, config: SignoffConfig) -> None:
        self.config = config
        self._names = config.policy.rule_names()
        self._rules = config.policy.rules

    @property
    def version(self) -> str:
        return self.config.policy_version

    def check(self, proposal: Proposal) -> list[tuple[str, str | None]]:
        """Each rule's name with ``None`` if it matched or the reason it did not."""
        return [(name, mismatch(rule, proposal)) for name, rule in zip(self._names, self._rules,
                                                                      strict=True)]

    def evaluate(self, proposal: Proposal) -> PolicyOutcome:
        checks = self.check(proposal)
        hits = [(i, self._rules[i]) for i, (_, why) in enumerate(checks) if why is None]
        matched = tuple(self._names[i] for i, _ in hits)
        if not hits:
            return self._default(proposal, matched)
        index, rule = max(hits, key=_severity)
        return self._from_rule(self._names[index], rule, matched)

    def _default(self, proposal: Proposal, matched: tuple[str, ...]) -> PolicyOutcome:
        decision = self.config.policy.default
        reason = f"no rule matches action {proposal.action!r}; policy.default is {decision}"
        if decision == "deny":
            return PolicyOutcome(decision="deny", rule=DEFAULT_RULE, matched=matched,
                                 reason=reason, policy_version=self.version)
        route = self.config.route(DEFAULT_ROUTE)
        return PolicyOutcome(
            decision="require_approval", rule=DEFAULT_RULE, matched=matched, reason=reason,
            route=route, chain=route.chain, **self._expiry(route, None),
            policy_version=self.version,
        )

    def _from_rule(self, name: str, rule: Rule, matched: tuple[str, ...]) -> PolicyOutcome:
        tier = rule.tier or RiskTier.MEDIUM
        if rule.decide != "require_approval":
            reason = rule.reason or (f"denied by rule {name!r}" if rule.decide == "deny" else None)
            return PolicyOutcome(decision=rule.decide, rule=name, matched=matched, reason=reason,
                                 tier=tier, policy_version=self.version)
        route = self._route(rule)
        return PolicyOutcome(
            decision="require_approval", rule=name, matched=matched, reason=rule.reason,
            tier=tier, review=rule.review or ReviewType.APPROVAL, route=route, chain=route.chain,
            **self._expiry(route, rule.expire_after), policy_version=self.version,
        )

    def _route(self, rule: Rule) -> Route:
        base = self.config.route(rule.route or DEFAULT_ROUTE)
        return Route(
            name=base.name, channel=base.channel, chain=base.chain,
            approvers=self.config.group(rule.approvers) if rule.approvers else base.approvers,
            approvals_required=rule.approvals or base.approvals_required,
            fallback=base.fallback,
        )

    def _expiry(self, route: Route, override: timedelta | None) -> dict[str, Any]:
        """``expire_after`` (the real deadline) and ``expiry_note`` for an outcome."""
        if route.chain is None:
            return {"expire_after": override}
        chain = self.config.chain(route.chain)
        length = ends_first(chain, override)
        hard = format_duration(override or chain.expire_after)
        return {"expire_after": effective_expiry(chain, override),
                "expiry_note": None if length is None else
                f"chain {route.chain} ends first; expire_after {hard}"}

    def fail_closed(self, proposal: Proposal) -> dict[str, list[str]]:
        """Matched restrictive rules that matched only because a value could not be
        compared, with what could not be (by rule name)."""
        found = {}
        for name, rule in zip(self._names, self._rules, strict=True):
            notes = fail_closed_notes(rule, proposal)
            if notes and mismatch(rule, proposal) is None:
                found[name] = notes
        return found

    def _break_glass(self, outcome: PolicyOutcome) -> list[str]:
        """Whether a responder may run it before anyone approves (the winning rule says)."""
        names = dict(zip(self._names, self._rules, strict=True))
        rule = names.get(outcome.rule)
        glass, section = (rule.break_glass if rule else None), self.config.break_glass
        if outcome.decision != "require_approval" or glass is None or section is None:
            return []
        within = format_duration(glass.witness_within or section.witness_within)
        who = glass.responders or section.responders
        return [f"break-glass: allowed (witnessed within {within}; responders: "
                f"{who or 'whoever may approve it'}"
                f"{'; the requester too' if glass.allow_self else ''})"]

    def explain(self, proposal: Proposal) -> str:
        """A human-readable account of the decision and of every rule checked."""
        outcome = self.evaluate(proposal)
        lines = [*_describe_proposal(proposal), *describe_outcome(outcome),
                 *self._break_glass(outcome),
                 "rules, in file order (the most severe match wins: deny > require_approval > "
                 "allow, then the highest tier, then the earlier rule):"]
        notes = self.fail_closed(proposal)
        for (name, why), rule in zip(self.check(proposal), self._rules, strict=True):
            lines.append(_rule_line(name, why, rule, name == outcome.rule))
            lines += [f"          {note}" for note in notes.get(name, ())]
        if not self._rules:
            lines.append("  (none)")
        return "\n".join(lines)


def _describe_proposal(proposal: Proposal) -> list[str]:
    confidence = "none given" if proposal.confidence is None else f"{proposal.confidence:g}"
    args = json.dumps(proposal.args, sort_keys=True, default=str)
    return [f"action: {proposal.action}", f"  args: {args}",
            f"  requested by: {proposal.requested_by}", f"  confidence: {confidence}"]


def describe_outcome(outcome: PolicyOutcome) -> list[str]:
    """The outcome as ``key: value`` lines (shared by explain and the CLI)."""
    lines = [f"decision: {outcome.decision}", f"rule: {outcome.rule}",
             f"matched: {', '.join(outcome.matched) or '(no rule)'}"]
    if outcome.reason:
        lines.append(f"reason: {outcome.reason}")
    lines.append(f"tier: {outcome.tier}")
    if outcome.route is not None:
        route = outcome.route
        lines += [f"review: {outcome.review}",
                  f"route: {route.name} (channel {route.channel}; approvers "
                  f"{', '.join(route.approvers)})",
                  f"approvals: {route.approvals_required}", f"chain: {outcome.chain}"]
    if outcome.expire_after is not None:
        note = f" ({outcome.expiry_note})" if outcome.expiry_note else ""
        lines.append(f"expires after: {format_duration(outcome.expire_after)}{note}")
    lines.append(f"policy_version: {outcome.policy_version}")
    return lines


def _rule_line(name: str, why: str | None, rule: Rule, wins: bool) -> str:
    if why is not None:
        return f"  [no]    {name}: {why}"
    detail: str = rule.decide
    if rule.decide == "require_approval":
        detail += f", tier {rule.tier or RiskTier.MEDIUM}"
    return f"  [{'wins' if wins else 'match'}]{' ' if wins else ''} {name}: {detail}"
