"""Arguments several subcommands share: which configuration file, and a look-back window."""

from __future__ import annotations

import argparse
from datetime import timedelta

from escalation.durations import DurationError, parse_duration


def config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", dest="config_path", metavar="PATH", default=argparse.SUPPRESS,
                        help="the configuration file (default: SIGNOFF_CONFIG, else signoff.yml)")


def config_path(args: argparse.Namespace) -> str:
    """PATH argument, else --config, else the caller's default (from SIGNOFF_CONFIG)."""
    for name in ("config_file", "config_path", "default_config"):
        value = getattr(args, name, None)
        if value:
            return str(value)
    return "signoff.yml"


def window(text: str) -> timedelta:
    """``--since 7d``: a duration, or an argparse error that says what is wrong with it."""
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
