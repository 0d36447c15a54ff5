"""The ``signoff`` command: the composition root for everything run from a shell."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.commands import (
    agents_cmds,
    audit_cmds,
    config_cmds,
    delegate_cmds,
    demo_cmds,
    eval_cmds,
    grants_cmds,
    mcp_cmds,
    oncall_cmds,
    serve_cmds,
    stats_cmds,
    store_cmds,
)
from bot.settings import load_settings
from store.errors import SignoffError

COMMAND_MODULES = [demo_cmds, serve_cmds, store_cmds, audit_cmds, config_cmds, oncall_cmds,
                   stats_cmds, eval_cmds, agents_cmds, delegate_cmds, mcp_cmds, grants_cmds]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signoff",
        description="Human-in-the-loop approvals for AI agents, reviewed in Slack.",
        epilog="Environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, "
        "SLACK_API_URL, SIGNOFF_DATABASE_URL (default sqlite:///signoff.db), "
        "SIGNOFF_CONFIG (default signoff.yml), SIGNOFF_AUDIT_KEY.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]  # to start it again as is
    try:
        args.settings = load_settings()
        args.default_config = str(args.settings.config_path)
        code: int = args.func(args)
    except SignoffError as exc:
        print(f"signoff: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
