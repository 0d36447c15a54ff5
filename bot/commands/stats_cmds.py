"""``signoff stats``: is the review real? Queue figures, reviewers and rubber-stamp flags."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

from bot.commands.stats_text import render_stats_text
from bot.commands.store_cmds import open_ledger
from escalation.config import ConfigNotFound, load_config
from escalation.durations import DurationError, parse_duration
from escalation.quality import QualityConfig, quality_report
from store.stats import QualityStats


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("stats", help="review figures, reviewer quality and rubber-stamp flags")
    p.add_argument("--since", type=_window, default=timedelta(days=30), metavar="DURATION",
                   help="how far back to look, e.g. 7d, 12h (default 30d)")
    p.add_argument("--by", choices=["action", "route", "reviewer", "agent"],
                   help="one row per action, route or agent (reviewer: reviewers only)")
    p.add_argument("--json", action="store_true", help="the report as one JSON document")
    p.set_defaults(func=cmd_stats)


def _window(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
        report = quality_report(QualityStats(ledger.engine), quality_config(args),
                                since=until - args.since, until=until, by=args.by)
    finally:
        ledger.close()
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True))
    else:
        print(render_stats_text(report))
    return 0
