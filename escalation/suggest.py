"""Progressive autonomy, suggested and never applied: what the decision record says about
each reviewed rule.

- **Relax**: every request a rule sent to review in the window was approved unchanged, by
  reviewers whose approvals mean something, at least ``suggest.min_samples`` times → propose
  letting the reviewed range run unreviewed (``amount <= the largest approved``).
- **Tighten**: the recent edit-or-reject rate rose to ``tighten_rate`` and ``tighten_factor``
  times what it was before → propose a stricter review.

Rules marked ``relax: never`` and every ``deny`` are never proposed for relaxing. Approvals by
reviewers flagged as rubber-stamping (or who approved a canary) are weak evidence and do not
count. The caller turns suggestions into a diff of ``signoff.yml``; nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from escalation.config import Rule, SignoffConfig
from escalation.config_checks import rule_label
from escalation.durations import format_duration
from store.proposals import ReviewedRequest


@dataclass(frozen=True)
class Suggestion:
    kind: str
    """``relax`` or ``tighten``."""
    action: str
    rule_index: int | None
    """The rule the suggestion changes (``None``: ``policy.default`` sent them to review)."""
    rule: str
    evidence: str
    arg: str | None = None
    bound: float | int | None = None
    """relax: requests with ``arg <= bound`` would run without review."""
    change: dict[str, Any] | None = None
    """tighten: the keys to set on the rule."""


def numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def bounded_arg(requests: Sequence[ReviewedRequest]) -> str | None:
    """A top-level numeric argument every request has (the first in key order)."""
    names = [k for k, v in requests[0].args.items() if numeric(v)]
    for name in names:
        if all(numeric(r.args.get(name)) for r in requests):
            return name
    return None


def _rules(config: SignoffConfig) -> dict[str, tuple[int, Rule]]:
    return {rule_label(i, r.name, r.action): (i, r) for i, r in enumerate(config.policy.rules)}


def relaxations(config: SignoffConfig, reviewed: Iterable[ReviewedRequest],
                weak: set[str], days: float) -> list[Suggestion]:
    groups: dict[tuple[str, str | None], list[ReviewedRequest]] = {}
    for r in reviewed:
        groups.setdefault((r.action, r.rule), []).append(r)
    rules = _rules(config)
    out = []
    for (action, label), requests in sorted(groups.items(), key=lambda kv: kv[0][0]):
        found = rules.get(label or "")
        if found is None and label not in (None, "policy.default"):
            continue  # decided under a rule the file no longer has: nothing to change
        if found is not None and (found[1].relax == "never"
                                  or found[1].decide != "require_approval"):
            continue
        suggestion = _relax(action, label, found, requests, weak, days,
                            config.suggest.min_samples)
        if suggestion is not None:
            out.append(suggestion)
    return out


def _relax(action: str, label: str | None, found: tuple[int, Rule] | None,
           requests: list[ReviewedRequest], weak: set[str], days: float,
           min_samples: int) -> Suggestion | None:
    if any(r.outcome != "approved" for r in requests):
        return None  # an edit, rejection, expiry or open request: the review still matters
    strong = [r for r in requests if set(r.approvers) - weak]
    if len(strong) < min_samples:
        return None
    arg = bounded_arg(strong)
    if found is not None and arg is not None and arg in found[1].when:
        return None  # the rule already draws a line on this argument: a person should move it
    bound = max(r.args[arg] for r in strong) if arg is not None else None
    reviews = [r.review_seconds for r in strong if r.review_seconds is not None]
    scope = f"{action} with {arg} ≤ {bound}" if arg is not None else action
    note = (f" ({len(requests) - len(strong)} approvals only by reviewers flagged as "
            "rubber-stamping not counted)" if len(strong) < len(requests) else "")
    evidence = (f"{scope}: {len(strong)} approved, 0 edited, 0 rejected in {days:g} days"
                + (f", median review {median(reviews):.0f} s" if reviews else "")
                + f" → allow{note}")
    return Suggestion("relax", action, found[0] if found else None, label or "policy.default",
                      evidence, arg, bound)


def tightenings(config: SignoffConfig, reviewed: Iterable[ReviewedRequest],
                recent_since: datetime) -> list[Suggestion]:
    by_action: dict[str, list[ReviewedRequest]] = {}
    for r in reviewed:
        if r.outcome != "open":
            by_action.setdefault(r.action, []).append(r)
    rules, s = _rules(config), config.suggest
    out = []
    for action, requests in sorted(by_action.items()):
        recent = [r for r in requests if r.created_at >= recent_since]
        before = [r for r in requests if r.created_at < recent_since]
        if len(recent) < s.tighten_min_samples or not before:
            continue
        now_rate, then_rate = _disagree_rate(recent), _disagree_rate(before)
        if now_rate < s.tighten_rate or now_rate < s.tighten_factor * then_rate:
            continue
        label = recent[-1].rule or "policy.default"
        index, rule = rules.get(label, (None, None))
        edits = sum(r.outcome == "edited" for r in recent)
        change: dict[str, Any] = ({"review": "edit"} if edits * 2 >= len(recent) * now_rate
                                  else {"approvals": 2})
        if rule is not None and all(getattr(rule, k) == v for k, v in change.items()):
            continue
        what = "require edit review" if "review" in change else "require two approvals"
        out.append(Suggestion(
            "tighten", action, index, label,
            f"{action}: {now_rate:.0%} edited or rejected in the last "
            f"{format_duration(s.recent)} vs {then_rate:.0%} before → {what}",
            change=change))
    return out


def _disagree_rate(requests: Sequence[ReviewedRequest]) -> float:
    return sum(r.outcome in ("edited", "rejected") for r in requests) / len(requests)


def suggest(config: SignoffConfig, reviewed: Sequence[ReviewedRequest], *, weak: set[str],
            since: datetime, until: datetime) -> list[Suggestion]:
    days = round((until - since).total_seconds() / 86400, 1)
    return (relaxations(config, reviewed, weak, days)
            + tightenings(config, reviewed, until - config.suggest.recent))
