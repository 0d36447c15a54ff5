"""``signoff serve`` and ``signoff sandbox``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from bot.server.compose import Service, build_service, require


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the Slack bot (HTTP or Socket Mode) and the sweep")
    p.add_argument("--host", default="0.0.0.0", help="interface to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    p.add_argument("--threads", type=int, default=16, help="HTTP worker threads")
    p.add_argument("--socket-mode", action="store_true",
                   help="connect to Slack over Socket Mode (needs SLACK_APP_TOKEN)")
    p.add_argument("--no-scheduler", action="store_true",
                   help="do not run the escalation sweep in this replica")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("sandbox", add_help=False,
                       help="run the local Slack-compatible server (see: signoff sandbox -h)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_sandbox)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.cli import main as sandbox_main

    return sandbox_main(args.rest)


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    service = build_service(args.settings)
    try:
        if not args.no_scheduler:
            service.start_scheduler()
        if args.socket_mode:
            return _socket_mode(service)
        return _http(service, args)
    finally:
        service.close()


def _http(service: Service, args: argparse.Namespace) -> int:
    server = service.serve_http(args.host, args.port, threads=args.threads)
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Stop accepting; requests in flight finish, then the ledger closes.
        if not stopping.is_set():
            stopping.set()
            print(f"signoff: received signal {signum}, shutting down", file=sys.stderr)
            threading.Thread(target=server.close, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"signoff: serving as bot {service.bot_user} on {server.url} "
          f"(POST /slack/events, GET /healthz); config {service.config.policy_version}; "
          f"sweep {'on' if service.scheduler else 'off'}", flush=True)
    server.serve_forever()
    return 0


def _socket_mode(service: Service) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app_token = require(service.access.app_token, "SLACK_APP_TOKEN",
                        "create an app-level token with connections:write (xapp-…)")
    SocketModeHandler(service.app, app_token).start()
    return 0
