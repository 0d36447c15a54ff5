"""Reviewer-quality figures as text: the ``signoff stats`` tables and the flags' sentences."""

from __future__ import annotations

from datetime import UTC

from escalation.quality import Flag, QualityReport
from store.stats import CanaryFigures, QueueFigures, ReviewerFigures


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def secs(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f}s"
    return f"{value / 60:.1f}m" if value < 7200 else f"{value / 3600:.1f}h"


def flag_sentence(flag: Flag) -> str:
    """Why a reviewer is flagged, with the evidence, in one line."""
    if flag.kind == "fast_approvals":
        return (f"{flag.reviewer} approved {pct(flag.approval_rate)} of {flag.decisions} "
                f"decisions, half of them within {secs(flag.median_click_s)} of the card "
                f"({flag.threshold})")
    if flag.kind == "never_disagrees":
        return (f"{flag.reviewer} never edited, rejected, questioned or took over any of "
                f"{flag.decisions} decisions ({flag.threshold})")
    return (f"{flag.reviewer} approved {flag.canary_misses} canary request(s) that should "
            f"have been rejected ({flag.threshold})")


def _queue_rows(rows: list[QueueFigures], label: str) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [(label.upper(), "REQUESTS", "AUTO", "DENIED", "REVIEWED",
                                   "APPROVED", "EDITED", "REJECTED", "EXPIRED", "ESCALATED",
                                   "QUEUE P50", "QUEUE P95")]
    out += [(q.group, str(q.requests), pct(q.auto_allow_share), str(q.denied), str(q.reviewed),
             pct(q.approval_rate), pct(q.edit_rate), pct(q.rejection_rate), pct(q.expiry_rate),
             pct(q.escalation_rate), secs(q.queue_p50_s), secs(q.queue_p95_s)) for q in rows]
    return out


def _reviewer_rows(rows: list[ReviewerFigures]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [("REVIEWER", "DECISIONS", "APPROVAL RATE", "EDITS",
                                   "REJECTIONS", "MEDIAN CLICK", "CANARIES CAUGHT/MISSED")]
    out += [(r.reviewer, str(r.decisions), pct(r.approval_rate), str(r.edits),
             str(r.rejections), secs(r.median_click_s),
             f"{r.canary_catches}/{r.canary_misses}") for r in rows]
    return out


def _canary_rows(rows: list[CanaryFigures]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [("ROUTE", "REVIEWER", "CAUGHT", "MISSED", "CATCH RATE")]
    out += [(c.route, c.reviewer, str(c.catches), str(c.misses), pct(c.catch_rate))
            for c in rows]
    return out


def table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def render_stats_text(report: QualityReport) -> str:
    """The terminal report: queue figures, reviewers, canaries, flags."""
    since = report.since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    lines = [f"since {since} (rates over closed reviewed requests; canaries excluded)", ""]
    if report.by != "reviewer":
        lines += [*table(_queue_rows(report.queue, report.by or "group")), ""]
    lines += (table(_reviewer_rows(report.reviewers)) if report.reviewers
              else ["no reviewer decisions"]) + [""]
    if report.canaries:
        lines += [*table(_canary_rows(report.canaries)), ""]
    lines.append("rubber-stamp flags:" if report.flags else "rubber-stamp flags: none")
    lines += [f"  - {flag_sentence(f)}" for f in report.flags]
    return "\n".join(lines)


def break_glass_line(counts: dict[str, int]) -> str:
    """Break-glass in the window: how many, and how many a second person witnessed."""
    if not counts["total"]:
        return "break-glass: none"
    return (f"break-glass: {counts['total']} (witnessed {counts['witnessed']}, of them late "
            f"{counts['witnessed_late']}; unwitnessed {counts['unwitnessed']}; escalated as "
            f"unwitnessed overrides {counts['escalated']})")


__all__ = ["break_glass_line", "flag_sentence", "pct", "render_stats_text", "secs", "table"]
