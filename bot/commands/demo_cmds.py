"""``signoff demo``: the whole product in a browser, with no Slack workspace."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import webbrowser
from types import FrameType

from bot.demo.config import PEOPLE, timing
from bot.demo.runner import Demo, DemoOptions
from store.errors import ConfigError

DEFAULT_PORT = 8765


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", help="click through signoff in a browser: a local Slack, the bot and an agent",
        description="Start a local Slack-compatible server with a web page, the real bot, a "
                    "throw-away database and a demo agent. Nothing to configure; nothing is "
                    "kept when it stops.")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port of the web page (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--fast", action="store_true",
                   help="escalate and expire within seconds instead of minutes")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = DemoOptions(port=args.port, host=args.host, fast=args.fast,
                          say=lambda line: print(line, flush=True))
    try:
        demo = Demo(options).start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); "
                          "pick another port with --port, or --port 0 for any free one") from exc
    stopping = threading.Event()
    _on_signals(stopping)
    try:
        print(welcome(demo), flush=True)
        if not args.no_browser and _has_display():
            threading.Thread(target=webbrowser.open, args=(demo.url,), daemon=True).start()
        while not stopping.wait(0.5):
            pass
    finally:
        print("signoff demo: stopping; the demo database is deleted.", file=sys.stderr)
        demo.close()
    return 0


def _has_display() -> bool:
    """A terminal-only Linux session would get a console browser; print the URL instead."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _on_signals(stopping: threading.Event) -> None:
    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def welcome(demo: Demo) -> str:
    t = timing(demo.options.fast)
    sweep = (f"Oscar is DM'd after {_span(t.first)}, Alice after {_span(t.second_at)}; "
             f"requests expire after {_span(t.expires_in)}")
    cast = "\n".join(f"    {p.real_name:<14} {p.role}" for p in PEOPLE)
    return f"""
signoff demo is running at {demo.url}

  Switch between these people at the top of the page:
{cast}

  What to try:
    1. As Alice, open #payments and approve the EUR 120 refund: the card updates and the
       agent's execution result appears in its thread.
    2. Click Edit on a refund, enter 0 as the amount: a field error. Fix it, approve the edit.
    3. As Rita, try to approve: nobody approves a request made on their behalf.
    4. The EUR 2,400 refund needs two approvers: Alice, then Bob.
    5. In #approvals, edit the email draft, or ask the agent about the account merge.
    6. Leave a request alone: {sweep}.

  Every click is a signed request to the real bot. Press Ctrl+C to stop.
"""


def _span(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")
