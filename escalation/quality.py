"""Rubber-stamp detection: which reviewers' figures say they may not be reading the cards.

The thresholds are the ``quality:`` section of ``signoff.yml``; docs/quality.md explains each
default. A flag carries its evidence (the figures that raised it), never a verdict: a
reviewer on a route of routine requests may approve quickly and rightly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt
from pydantic_core import PydanticCustomError

from store.stats import (
    CanaryFigures,
    GroupBy,
    QualityStats,
    QueueFigures,
    ReviewerFigures,
)

FlagKind = Literal["fast_approvals", "never_disagrees", "canary_missed"]


class QualityConfig(BaseModel):
    """``quality:`` in signoff.yml: when a reviewer's figures raise a rubber-stamp flag."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_decisions: StrictInt = Field(default=20, ge=1)
    """A reviewer is judged on rates only after this many decisions in the window."""
    fast_approval_rate: float = Field(default=0.95, gt=0, le=1)
    fast_median_seconds: float = Field(default=10.0, gt=0)
    """Approving at least ``fast_approval_rate`` of decisions with a median card-to-click
    time at or under this many seconds raises ``fast_approvals``."""
    never_disagree_after: StrictInt = Field(default=50, ge=1)
    """This many decisions without one edit, rejection or question raises
    ``never_disagrees``."""
    canary_misses: StrictInt = Field(default=1, ge=1)
    """This many approved canaries in the window raise ``canary_missed``."""


def _rate(value: Any) -> Any:
    """``1/200`` or a share such as ``0.005``."""
    if isinstance(value, str) and "/" in value:
        num, _, den = value.partition("/")
        try:
            value = int(num) / int(den)
        except (ValueError, ZeroDivisionError):
            raise PydanticCustomError("signoff", "{message}", {
                "message": f"{value!r} is not a rate",
                "fix": "write it as 1/200 (one canary per 200 real requests) or 0.005"}) from None
    return value


class CanaryRequest(BaseModel):
    """One test request that must be rejected, as the team wrote it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    action: Annotated[str, Field(min_length=1, max_length=200)]
    args: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
    summary: str | None = None
    evidence: tuple[dict[str, Any], ...] = ()
    confidence: float | None = Field(default=None, ge=0, le=1)
    agent: str | None = None
    requested_by: Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,}$")]
    lesson: Annotated[str, Field(min_length=1, max_length=1000)]
    """What the reviewer should have noticed; told privately after a missed canary."""


class CanaryRoute(BaseModel):
    """``canaries: ROUTE:`` in signoff.yml: how often, and which test requests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: Annotated[float, BeforeValidator(_rate), Field(gt=0, le=1)]
    """The share of the route's real requests followed by a canary (``1/200``)."""
    requests: tuple[CanaryRequest, ...] = Field(min_length=1)


class Flag(BaseModel):
    """A reviewer whose figures crossed a threshold, with the figures as evidence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reviewer: str
    kind: FlagKind
    decisions: int
    approval_rate: float | None
    median_click_s: float | None
    disagreements: int
    canary_misses: int
    threshold: str
    """The rule that fired, e.g. ``approval_rate >= 0.95 and median_click_s <= 10``."""


def rubber_stamp_flags(reviewers: list[ReviewerFigures], config: QualityConfig) -> list[Flag]:
    """Every flag the figures raise, in reviewer order."""
    return [flag for r in reviewers for flag in _flags(r, config)]


def _flags(r: ReviewerFigures, c: QualityConfig) -> list[Flag]:
    disagreements = r.edits + r.rejections + r.info_requests + r.take_overs

    def flag(kind: FlagKind, threshold: str) -> Flag:
        return Flag(reviewer=r.reviewer, kind=kind, decisions=r.decisions,
                    approval_rate=r.approval_rate, median_click_s=r.median_click_s,
                    disagreements=disagreements, canary_misses=r.canary_misses,
                    threshold=threshold)

    out = []
    if (r.decisions >= c.min_decisions and r.approval_rate is not None
            and r.approval_rate >= c.fast_approval_rate and r.median_click_s is not None
            and r.median_click_s <= c.fast_median_seconds):
        out.append(flag("fast_approvals", f"decisions >= {c.min_decisions} and approval_rate "
                        f">= {c.fast_approval_rate:g} and median_click_s <= "
                        f"{c.fast_median_seconds:g}"))
    if r.decisions >= c.never_disagree_after and disagreements == 0:
        out.append(flag("never_disagrees", f"decisions >= {c.never_disagree_after} and no "
                        "edit, rejection, question or take-over"))
    if r.canary_misses >= c.canary_misses:
        out.append(flag("canary_missed", f"canary_misses >= {c.canary_misses}"))
    return out


class QualityReport(BaseModel):
    """What ``signoff stats`` shows: the window, the queue figures, the reviewers, the canary
    record and the flags. ``--json`` prints exactly this model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    since: datetime
    until: datetime
    by: Literal["action", "route", "agent", "reviewer"] | None
    queue: list[QueueFigures]
    reviewers: list[ReviewerFigures]
    canaries: list[CanaryFigures]
    flags: list[Flag]


def quality_report(stats: QualityStats, config: QualityConfig, *, since: datetime,
                   until: datetime, by: GroupBy | Literal["reviewer"] | None = None,
                   route: str | None = None) -> QualityReport:
    """The figures since ``since``; ``route`` limits reviewers and canaries to one route
    (what a route's approvers may see on App Home)."""
    if route is not None:
        queue = [q for q in stats.queue_figures(since, "route") if q.group == route]
    else:
        queue = stats.queue_figures(since, None if by == "reviewer" else by)
    reviewers = stats.reviewer_figures(since, route=route)
    canaries = [c for c in stats.canary_figures(since) if route is None or c.route == route]
    return QualityReport(since=since, until=until, by=by, queue=queue, reviewers=reviewers,
                         canaries=canaries, flags=rubber_stamp_flags(reviewers, config))


def route_reports(stats: QualityStats, config: QualityConfig, routes: list[str], *,
                  since: datetime, until: datetime) -> list[tuple[str, QualityReport]]:
    """One report per route (App Home, the digest)."""
    return [(r, quality_report(stats, config, since=since, until=until, route=r))
            for r in routes]


__all__ = ["CanaryRequest", "CanaryRoute", "Flag", "FlagKind", "QualityConfig",
           "QualityReport", "quality_report", "route_reports", "rubber_stamp_flags"]
