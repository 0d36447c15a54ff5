"""``signoff stats``: is the review real? Queue figures, reviewers and rubber-stamp flags."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.commands.options import window
from bot.commands.stats_text import break_glass_line, render_stats_text
from bot.commands.store_cmds import open_ledger
from bot.server.compose import require
from bot.slack.quality_view import render_digest
from bot.slack.webapi import make_web_client, slack_error
from escalation.config import ConfigNotFound, load_config
from escalation.quality import QualityConfig, QualityReport, quality_report, route_reports
from store.errors import ConfigError
from store.stats import QualityStats


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("stats", help="review figures, reviewer quality and rubber-stamp flags")
    p.add_argument("--since", type=window, default=timedelta(days=30), metavar="DURATION",
                   help="how far back to look, e.g. 7d, 12h (default 30d)")
    p.add_argument("--by", choices=["action", "route", "reviewer", "agent"],
                   help="one row per action, route or agent (reviewer: reviewers only)")
    p.add_argument("--json", action="store_true", help="the report as one JSON document")
    p.add_argument("--post", metavar="CHANNEL",
                   help="also post every route's figures and flags to this Slack channel id "
                        "(a weekly digest: run `signoff stats --since 7d --post C…` from cron)")
    p.set_defaults(func=cmd_stats)


def post_digest(args: argparse.Namespace, channel: str,
                reports: list[tuple[str, QualityReport]], days: int) -> None:
    settings = args.settings
    token = require(settings.slack_bot_token, "SLACK_BOT_TOKEN",
                    "set it to post the digest (xoxb-…)")
    digest = render_digest(reports, days)
    try:
        make_web_client(token, settings.slack_api_url).chat_postMessage(
            channel=channel, text=digest["text"], blocks=digest["blocks"], unfurl_links=False)
    except (SlackApiError, SlackClientError, OSError) as exc:
        raise ConfigError(f"could not post the digest to {channel}: {slack_error(exc)}; "
                          "check the channel id and that the bot is a member") from exc


def quality_config(args: argparse.Namespace) -> QualityConfig:
    """The thresholds from signoff.yml; the documented defaults when there is no file."""
    try:
        return load_config(args.settings.config_path).quality
    except ConfigNotFound:
        return QualityConfig()


def cmd_stats(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        until = ledger.db_now()
        stats = QualityStats(ledger.engine)
        report = quality_report(stats, quality_config(args), since=until - args.since,
                                until=until, by=args.by)
        glass = ledger.break_glass_counts(until - args.since)
        if args.post:
            config = load_config(args.settings.config_path)
            post_digest(args, args.post, route_reports(
                stats, config.quality, sorted(config.routes), since=until - args.since,
                until=until), args.since.days or 1)
    finally:
        ledger.close()
    if args.json:
        print(json.dumps({**report.model_dump(mode="json"), "break_glass": glass}, indent=2,
                         sort_keys=True))
    else:
        print(render_stats_text(report))
        print(break_glass_line(glass))
    return 0
