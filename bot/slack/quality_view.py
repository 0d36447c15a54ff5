"""Review-quality figures as Slack blocks: the App Home section a route's approvers see, and
the digest ``signoff stats --post`` sends to a channel."""

from __future__ import annotations

from bot.commands.stats_text import flag_sentence, pct, secs
from bot.render.blocks import (
    MAX_MESSAGE_BLOCKS,
    Block,
    Message,
    block_id,
    context,
    header,
    message,
    section,
)
from bot.render.text import esc, mention
from escalation.quality import Flag, QualityReport

HOME_REVIEWERS = 5


def render_home_quality(reports: list[tuple[str, QualityReport]], days: int) -> list[Block]:
    """Blocks for the Home tab: one section per route the viewer approves for (the route's
    figures, its busiest reviewers, its flags). Empty when the viewer approves for none."""
    if not reports:
        return []
    blocks: list[Block] = [{"type": "divider", "block_id": "signoff_quality_div"},
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


__all__ = ["render_digest", "render_home_quality"]
