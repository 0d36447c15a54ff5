"""``signoff sandbox``: run the local Slack stand-in as a process.

``main(argv)`` parses the command line; ``run(...)`` is the same from Python.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import yaml

from bot.sandbox.clock import ManualClock
from bot.sandbox.delivery import ACK_TIMEOUT
from bot.sandbox.sandbox import DEFAULT_SIGNING_SECRET, SlackSandbox
from bot.sandbox.workspace import Workspace

DEFAULT_PORT = 3001


def run(port: int = DEFAULT_PORT, host: str = "127.0.0.1", *,
        workspace: Workspace | None = None, request_url: str | None = None,
        events_url: str | None = None, signing_secret: str = DEFAULT_SIGNING_SECRET,
        rate_limit: int | None = None, rate_window: float = 1.0, rate_tiers: bool = False,
        ack_timeout: float = ACK_TIMEOUT, manual_clock: bool = False,
        ready: Callable[[SlackSandbox], None] | None = None,
        stop: threading.Event | None = None, out: TextIO = sys.stdout) -> None:
    """Serve until interrupted (or until ``stop`` is set); ``ready`` sees the running sandbox."""
    sandbox = SlackSandbox(workspace, host=host, port=port, signing_secret=signing_secret,
                           request_url=request_url, events_url=events_url,
                           clock=ManualClock() if manual_clock else time.time,
                           ack_timeout=ack_timeout, rate_limit=rate_limit,
                           rate_window=rate_window, rate_tiers=rate_tiers)
    stop = stop or threading.Event()
    with sandbox:
        _announce(sandbox, out)
        if ready is not None:
            ready(sandbox)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    return run_args(_parser().parse_args(argv))


def run_args(args: argparse.Namespace) -> int:
    """Run from arguments parsed by :func:`add_arguments` (``signoff sandbox`` uses this)."""
    workspace = load_workspace(args.workspace) if args.workspace else None
    run(args.port, args.host, workspace=workspace, request_url=args.request_url,
        events_url=args.events_url, signing_secret=args.signing_secret,
        rate_limit=args.rate_limit, rate_window=args.rate_window, rate_tiers=args.rate_tiers,
        ack_timeout=args.ack_timeout, manual_clock=args.manual_clock)
    return 0


def load_workspace(path: str | Path) -> Workspace:
    """A workspace from a YAML (or JSON) file with the fields of :class:`Workspace`."""
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a mapping of workspace settings")
    return Workspace.from_dict(data)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signoff sandbox", description=DESCRIPTION)
    add_arguments(parser)
    return parser


DESCRIPTION = "A local Slack-compatible server."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox's options, on its own parser or on ``signoff sandbox``."""
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--request-url", help="the app's interactivity/events URL")
    parser.add_argument("--events-url", help="the app's Events API URL, if not the same")
    parser.add_argument("--signing-secret", default=DEFAULT_SIGNING_SECRET)
    parser.add_argument("--workspace", help="YAML/JSON file describing users and channels")
    parser.add_argument("--rate-limit", type=int, help="chat.postMessage posts per channel")
    parser.add_argument("--rate-window", type=float, default=1.0, help="seconds")
    parser.add_argument("--rate-tiers", action="store_true",
                        help="limit every method by Slack's tiers (429 + Retry-After)")
    parser.add_argument("--ack-timeout", type=float, default=ACK_TIMEOUT, help="seconds")
    parser.add_argument("--manual-clock", action="store_true",
                        help="freeze time; move it with POST /_sandbox/clock/advance")


def _announce(sandbox: SlackSandbox, out: TextIO) -> None:
    ws = sandbox.workspace
    print(f"Slack sandbox on {sandbox.base_url}", file=out)
    print(f"  SLACK_API_URL={sandbox.api_url}", file=out)
    print(f"  SLACK_BOT_TOKEN={sandbox.bot_token}", file=out)
    print(f"  SLACK_SIGNING_SECRET={sandbox.signing_secret}", file=out)
    print(f"  control: {sandbox.base_url}/_sandbox/state", file=out)
    print(f"  users: {', '.join(f'{u.id} ({u.name})' for u in ws.humans())}", file=out)
    out.flush()
