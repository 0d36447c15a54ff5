"""Reviewer-quality figures as text: the ``signoff stats`` tables and the flags' sentences."""

from __future__ import annotations

from datetime import UTC

from bot.render.blocks import (
    MAX_MESSAGE_BLOCKS,
    Block,
    Message,
    block_id,
    context,
    divider,
    header,
    message,
    section,
)
from bot.render.text import esc, mention
from escalation.quality import Flag, QualityReport
from store.models import Ticket
from store.stats import CanaryFigures, QueueFigures, ReviewerFigures

BLOCK_CANARY = "signoff_canary_note"


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




# -- canaries: what the reviewer is told, privately, right after deciding one ---------------

CANARY_NOTE_LIMIT = 1500


def render_canary_missed(ticket: Ticket) -> Message:
    """After approving a canary: it was a test, nothing ran, and what to have noticed."""
    lesson = esc(ticket.canary_lesson or "it was written to be rejected", CANARY_NOTE_LIMIT)
    text = (f"🧪 That request was a *canary*: a test your team wrote to check that such "
            f"requests get rejected. You approved it, so it counts as a miss; nothing ran "
            f"(there is no tool behind it). What to notice next time: {lesson}")
    return message(text, [section(BLOCK_CANARY, text)])


def render_canary_caught(ticket: Ticket) -> Message:
    """After rejecting (or taking over) a canary: well caught."""
    lesson = esc(ticket.canary_lesson or "it was written to be rejected", CANARY_NOTE_LIMIT)
    text = (f"🧪 Well caught: that request was a *canary*, a test your team wrote to be "
            f"rejected ({lesson}). It counts as a catch; nothing ran.")
    return message(text, [section(BLOCK_CANARY, text)])




# -- App Home: a route's figures for its approvers -------------------------------------------

HOME_REVIEWERS = 5


def render_home_quality(reports: list[tuple[str, QualityReport]], days: int) -> list[Block]:
    """Blocks for the Home tab: one section per route the viewer approves for (the route's
    figures, its busiest reviewers, its flags). Empty when the viewer approves for none."""
    if not reports:
        return []
    blocks: list[Block] = [divider("signoff_quality_div"),
                           header("signoff_quality_header", f"Review quality · last {days} days")]
    for route, report in reports:
        blocks.append(section(block_id("signoff_quality_r:", route), _route_text(route, report)))
        if report.flags:
            flags = "\n".join(f"⚠️ {_slack_flag(f)}" for f in report.flags[:HOME_REVIEWERS])
            blocks.append(section(block_id("signoff_quality_f:", route), flags))
    blocks.append(context("signoff_quality_note", [
        "Canaries are test requests written to be rejected; they count only as catches and "
        "misses. Run `signoff stats` for every figure."]))
    return blocks


def render_digest(reports: list[tuple[str, QualityReport]], days: int) -> Message:
    """The digest posted to a channel (``signoff stats --post``): every route's figures and
    every flag, the same sections as App Home."""
    blocks: list[Block] = [header("signoff_digest_header", f"Review quality · last {days} days")]
    for route, report in reports[: (MAX_MESSAGE_BLOCKS - 2) // 2]:
        blocks.append(section(block_id("signoff_digest_r:", route), _route_text(route, report)))
        if report.flags:
            flags = "\n".join(f"⚠️ {_slack_flag(f)}" for f in report.flags[:HOME_REVIEWERS])
            blocks.append(section(block_id("signoff_digest_f:", route), flags))
    blocks.append(context("signoff_digest_note", [
        "Rates count closed reviewed requests; canaries count only as catches and misses. "
        "Run `signoff stats` for every figure."]))
    flagged = sum(len(r.flags) for _, r in reports)
    return message(f"Review quality, last {days} days: {len(reports)} route(s), "
                   f"{flagged} rubber-stamp flag(s)", blocks)


def _route_text(route: str, report: QualityReport) -> str:
    q = report.queue[0] if report.queue else None
    lines = [f"*{esc(route, 64)}*"]
    if q is None or q.requests == 0:
        lines.append("No requests in this period.")
    else:
        lines.append(f"{q.requests} requests · {pct(q.auto_allow_share)} auto-allowed · approved "
                     f"{pct(q.approval_rate)} · edited {pct(q.edit_rate)} · rejected "
                     f"{pct(q.rejection_rate)} · expired {pct(q.expiry_rate)} · time in queue "
                     f"p50 {secs(q.queue_p50_s)}, p95 {secs(q.queue_p95_s)}")
    caught = sum(c.catches for c in report.canaries)
    missed = sum(c.misses for c in report.canaries)
    if caught or missed:
        lines.append(f"🧪 Canaries: {caught} caught, {missed} missed")
    for r in report.reviewers[:HOME_REVIEWERS]:
        lines.append(f"• {mention(r.reviewer)}: {r.decisions} decisions, {pct(r.approval_rate)} "
                     f"approved, median {secs(r.median_click_s)} from card to click")
    return "\n".join(lines)


def _slack_flag(flag: Flag) -> str:
    return flag_sentence(flag.model_copy(update={"reviewer": mention(flag.reviewer)}))


__all__ = ["flag_sentence", "pct", "render_canary_caught", "render_canary_missed",
           "render_digest", "render_home_quality", "render_stats_text", "secs", "table"]
