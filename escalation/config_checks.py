"""Checks across sections of signoff.yml: names that must exist, counts that must be reachable.

They work on the plain mapping read from YAML (or a model dump), tolerating sections that are
malformed, so one run reports these findings alongside type errors from the models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from escalation.batching import batch_findings
from escalation.config_errors import Finding, closest
from escalation.yaml_marks import Path

APPROVAL_ONLY = ("route", "approvals", "review", "approvers", "expire_after", "batch",
                 "break_glass")
MATCHERS = ("action", "when", "requested_by", "confidence_below")
DEFAULT_ROUTE = "default"


def rule_label(index: int, name: Any, action: Any) -> str:
    """A rule's id: its ``name``, else ``rules[3] issue_refund`` (or ``rules[3]``)."""
    if isinstance(name, str) and name:
        return name
    return f"rules[{index}] {action}" if isinstance(action, str) and action else f"rules[{index}]"


def cross_check(data: Any) -> list[Finding]:
    if not isinstance(data, Mapping):
        return []
    reviewers = _mapping(data.get("reviewers"))
    routes = _mapping(data.get("routes"))
    chains = _mapping(data.get("chains"))
    findings = _check_routes(routes, reviewers, chains)
    findings += _check_policy(_mapping(data.get("policy")), routes, reviewers)
    findings += _check_break_glass(data, reviewers)
    if isinstance(data.get("policy_candidate"), Mapping):
        # The candidate is checked like the live policy; its findings name its own keys.
        candidate = _check_policy(data["policy_candidate"], routes, reviewers)
        findings += [Finding(("policy_candidate", *f.path[1:]) if f.path[:1] == ("policy",)
                             else f.path, f.message, f.fix) for f in candidate]
    return findings


def _check_break_glass(data: Mapping[str, Any], reviewers: Mapping[str, Any]) -> list[Finding]:
    """Rules that allow break-glass need the ``break_glass:`` section (its security
    channel); every responders group named must exist."""
    section = data.get("break_glass")
    findings: list[Finding] = []
    if isinstance(section, Mapping):
        findings += _ref(("break_glass", "responders"), "reviewer group", "reviewers",
                         section.get("responders"), reviewers)
    rules = _mapping(data.get("policy")).get("rules")
    if not isinstance(rules, Sequence) or isinstance(rules, str):
        return findings
    for index, rule in enumerate(rules):
        glass = rule.get("break_glass") if isinstance(rule, Mapping) else None
        if glass in (None, False) or rule.get("decide") != "require_approval":
            continue
        path: Path = ("policy", "rules", index, "break_glass")
        if isinstance(glass, Mapping):
            findings += _ref((*path, "responders"), "reviewer group", "reviewers",
                             glass.get("responders"), reviewers)
        if not isinstance(section, Mapping):
            findings.append(Finding(path, "this rule allows break-glass, but there is no "
                                    "break_glass: section saying where it is announced",
                                    "add break_glass: {security_channel: C…} at the top level "
                                    "(the channel every break-glass is posted to)"))
    return findings


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ref(path: Path, kind: str, section: str, name: Any,
         defined: Mapping[str, Any]) -> list[Finding]:
    if not isinstance(name, str) or name in defined:
        return []
    names = sorted(str(n) for n in defined)
    listing = ", ".join(names) if names else f"none yet, add a {section}: section"
    return [Finding(path, f"unknown {kind} {name!r}",
                    f"{closest(name, names)}defined {section}: {listing}")]


def _approvals(path: Path, approvals: Any, group: Any,
               reviewers: Mapping[str, Any]) -> list[Finding]:
    members = reviewers.get(group) if isinstance(group, str) else None
    if isinstance(approvals, bool) or not isinstance(approvals, int):
        return []
    if not isinstance(members, Sequence) or isinstance(members, str):
        return []
    if not all(isinstance(m, str) and m[:1] in ("U", "W") for m in members):
        return []  # a user group's size is unknowable offline
    if approvals <= len(members):
        return []
    return [Finding(
        path,
        f"approvals: {approvals} can never be met: reviewer group {group!r} has "
        f"{len(members)} member{'s' if len(members) != 1 else ''}",
        "lower approvals, add people to the group, or use a Slack user group (S…)",
    )]


def _check_routes(routes: Mapping[str, Any], reviewers: Mapping[str, Any],
                  chains: Mapping[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    for name, route in routes.items():
        if not isinstance(route, Mapping):
            continue
        base: Path = ("routes", name)
        findings += _ref((*base, "chain"), "chain", "chains", route.get("chain"), chains)
        findings += _ref((*base, "approvers"), "reviewer group", "reviewers",
                         route.get("approvers"), reviewers)
        findings += _approvals((*base, "approvals"), route.get("approvals", 1),
                               route.get("approvers"), reviewers)
        findings += _fallback(base, route, reviewers)
    return findings


def _fallback(base: Path, route: Mapping[str, Any],
              reviewers: Mapping[str, Any]) -> list[Finding]:
    """``fallback_approvers``: a defined reviewers group, other than the route's approvers."""
    group = route.get("fallback_approvers")
    path: Path = (*base, "fallback_approvers")
    found = _ref(path, "reviewer group", "reviewers", group, reviewers)
    if found or not isinstance(group, str):
        return found
    if group == route.get("approvers"):
        return [Finding(path, f"fallback_approvers names the route's own approvers ({group!r}): "
                              "they would never add anyone",
                        "name another reviewers group (people who may decide when every "
                        "approver is away), or remove fallback_approvers")]
    return []


def _check_policy(policy: Mapping[str, Any], routes: Mapping[str, Any],
                  reviewers: Mapping[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    if policy.get("default", "require_approval") == "require_approval" and (
        DEFAULT_ROUTE not in routes
    ):
        findings.append(Finding(
            ("policy", "default") if "default" in policy else ("routes",),
            "actions no rule matches need approval, but there is no route named 'default' "
            "to send them to",
            "add routes.default with a channel, approvers and chain",
        ))
    rules = policy.get("rules")
    if not isinstance(rules, Sequence) or isinstance(rules, str):
        return findings
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        path: Path = ("policy", "rules", index)
        findings += _check_rule(path, rule, routes, reviewers)
        label = rule_label(index, rule.get("name"), rule.get("action"))
        if label in seen:
            findings.append(Finding((*path, "name"), f"rule name {label!r} is used twice",
                                    f"rename one; policy.rules[{seen[label]}] has it"))
        seen.setdefault(label, index)
    return findings


def _check_rule(path: Path, rule: Mapping[str, Any], routes: Mapping[str, Any],
                reviewers: Mapping[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    if not any(rule.get(key) not in (None, {}) for key in MATCHERS):
        findings.append(Finding(
            path, "this rule has no condition (action, when, requested_by or confidence_below)",
            'add a condition, or write action: "*" to match every action on purpose',
        ))
    decide = rule.get("decide")
    if decide not in ("allow", "deny", "require_approval"):
        return findings  # the models report a missing or unknown decide
    if decide != "require_approval":
        if decide == "deny" and rule.get("break_glass") is not None:
            findings.append(Finding((*path, "break_glass"), "break-glass can never force an "
                                    "action policy denies", "remove break_glass from this "
                                    "deny rule, or make it decide: require_approval"))
        for key in APPROVAL_ONLY:
            if rule.get(key) is not None and not (key == "break_glass" and decide == "deny"):
                findings.append(Finding((*path, key), f"{key} only applies to rules that "
                                        f"decide: require_approval, this one decides {decide}",
                                        f"remove {key}, or change decide"))
        return findings
    route_name = rule.get("route")
    if route_name is None:
        if DEFAULT_ROUTE not in routes:
            findings.append(Finding((*path, "decide"), "this rule has no route: and there is "
                                    "no route named 'default'",
                                    "add route: <name> to the rule, or define routes.default"))
        route_name = DEFAULT_ROUTE
    else:
        findings += _ref((*path, "route"), "route", "routes", route_name, routes)
    findings += _ref((*path, "approvers"), "reviewer group", "reviewers",
                     rule.get("approvers"), reviewers)
    findings += batch_findings(path, rule, _mapping(routes.get(route_name))
                               if isinstance(route_name, str) else {})
    if rule.get("approvals") is None and rule.get("approvers") is None:
        return findings  # the route's own check covers its approvals
    route = _mapping(routes.get(route_name)) if isinstance(route_name, str) else {}
    approvals = rule.get("approvals") or route.get("approvals", 1)
    group = rule.get("approvers") or route.get("approvers")
    key = "approvals" if rule.get("approvals") is not None else "approvers"
    findings += _approvals((*path, key), approvals, group, reviewers)
    return findings
