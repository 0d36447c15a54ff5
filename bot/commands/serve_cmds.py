"""``signoff serve`` and ``signoff sandbox``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.server.compose import Service, build_service, require
from bot.server.processes import (
    Workers,
    drop_own_metrics,
    shared_metrics,
    stop_with_parent,
    worker_argv,
)
from store.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the Slack bot (HTTP or Socket Mode) and the sweep")
    p.add_argument("--host", default="0.0.0.0", help="interface to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    p.add_argument("--api-port", type=int,
                   help="port of the agent API /v1 (default: --port + 1; 0 picks a free one; "
                   "with --socket-mode, only when given)")
    p.add_argument("--threads", type=int, default=16, help="HTTP worker threads")
    p.add_argument("--socket-mode", action="store_true",
                   help="connect to Slack over Socket Mode (needs SLACK_APP_TOKEN)")
    p.add_argument("--no-scheduler", action="store_true",
                   help="do not run the escalation sweep in this replica")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="serving processes on this host, sharing both ports (PostgreSQL, "
                   "HTTP mode; default 1): one process does its work on about one core")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_serve)

    # The sandbox's own options, declared once (argparse.REMAINDER would swallow nothing on
    # Python 3.11 when the first argument is an option: "unrecognized arguments").
    from bot.sandbox import cli as sandbox_cli

    p = sub.add_parser("sandbox", help="run the local Slack-compatible server",
                       description=sandbox_cli.DESCRIPTION)
    sandbox_cli.add_arguments(p)
    p.set_defaults(func=cmd_sandbox)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.cli import run_args

    return run_args(args)


NO_AUDIT_KEY = (
    "signoff: warning: SIGNOFF_AUDIT_KEY is not set, so the audit trail is hashed without a "
    "key: whoever can write to the database can also rewrite the trail and its hashes "
    "unnoticed, and `signoff audit checkpoint` cannot sign. Set SIGNOFF_AUDIT_KEY to a long "
    "random secret (the same in every replica) and keep it out of the database.")


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    if args.processes > 1 and not args.worker and not args.socket_mode:
        shared_metrics(getattr(args, "argv", sys.argv[1:]))  # restarts once, sharing counters
    try:
        return _serve(args)
    finally:
        if not args.worker:
            drop_own_metrics()


def _serve(args: argparse.Namespace) -> int:
    service = build_service(args.settings, socket_mode=args.socket_mode)
    try:
        _check_processes(args, service)
        if args.worker:  # one more process of a first one, which does the rest
            return _http(service, args)
        if args.settings.audit_key_bytes is None:
            print(NO_AUDIT_KEY, file=sys.stderr)
        _check_channels(service)
        service.replay_clicks()
        if not args.no_scheduler:
            service.start_scheduler()
        service.start_webhooks()
        if args.socket_mode:
            # No HTTP in Socket Mode unless asked for: the agent API only with --api-port.
            if args.api_port is not None:
                api = service.serve_api(args.host, args.api_port, settings=args.settings)
                print(f"signoff: agent API on {api.start().url}/v1", flush=True)
            return _socket_mode(service)
        return _http(service, args)
    finally:
        service.close()


def _check_processes(args: argparse.Namespace, service: Service) -> None:
    if args.processes < 1:
        raise ConfigError(f"--processes {args.processes}: must be at least 1")
    if args.processes == 1 and not args.worker:
        return
    if args.socket_mode:
        raise ConfigError("--processes serves HTTP: with --socket-mode run one process (Slack "
                          "sends each Socket Mode envelope to one connection)")
    if service.ledger.dialect != "postgresql":
        raise ConfigError(
            f"--processes {max(args.processes, 2)} needs PostgreSQL (SIGNOFF_DATABASE_URL): SQLite "
            "has one writer, and a decision in one process cannot wake an agent waiting in "
            "another. Run one process, or move the ledger to PostgreSQL")


def _check_channels(service: Service) -> None:
    """Refuse to start while a route's channel cannot receive cards, saying what to do."""
    from bot.slack.channels import check_route_channels

    try:
        bot_name = str(service.slack.auth_test().get("user") or "signoff")
    except (SlackApiError, SlackClientError, OSError):
        bot_name = "signoff"
    routes = {name: route.channel for name, route in service.config.routes.items()}
    if service.config.break_glass is not None:  # break-glass must be announced there
        routes["break_glass.security_channel"] = service.config.break_glass.security_channel
    check = check_route_channels(service.slack, routes, bot_name=bot_name)
    for where in check.joined:
        print(f"signoff: joined {where} to post review cards there", file=sys.stderr)
    for line in check.unchecked:
        print(f"signoff: warning: {line}", file=sys.stderr)
    if not check.ok:
        raise ConfigError("review cards cannot be posted in every route's channel:\n  - "
                          + "\n  - ".join(check.problems))


def _http(service: Service, args: argparse.Namespace) -> int:
    shared = args.processes > 1 or args.worker  # other processes listen on the same ports
    api_port = args.api_port if args.api_port is not None else (
        args.port + 1 if args.port else 0)
    api = service.serve_api(args.host, api_port, settings=args.settings,
                            reuse_port=shared).start()
    server = service.serve_http(args.host, args.port, threads=args.threads, reuse_port=shared)
    workers = Workers(worker_argv(host=args.host, port=server.port, api_port=api.port,
                                  threads=args.threads), args.processes - 1)
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Stop accepting; requests in flight finish, then the ledger closes.
        if not stopping.is_set():
            stopping.set()
            workers.stopping.set()  # Ctrl-C reaches them too: none is started again
            print(f"signoff: received signal {signum}, shutting down", file=sys.stderr)
            threading.Thread(target=server.close, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.worker:
        stop_with_parent(lambda: stop(signal.SIGTERM, None))
    print(f"signoff: {'one more process ' if args.worker else ''}serving as bot "
          f"{service.bot_user} on {server.url} (POST /slack/events, GET /healthz, GET "
          f"/metrics); agent API on {api.url}/v1; config {service.config.policy_version}; "
          f"sweep {'on' if service.scheduler else 'off'}"
          + (f"; {args.processes} processes" if args.processes > 1 else ""), flush=True)
    if workers.count:
        workers.start()
    try:
        server.serve_forever()
    finally:
        workers.stop()
    return 0


def _socket_mode(service: Service) -> int:
    """Serve over Socket Mode until SIGTERM/SIGINT, then stop as HTTP mode does: no new
    envelopes, handlers already running (and acknowledged) finish, then the ledger closes."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app_token = require(service.access.app_token, "SLACK_APP_TOKEN",
                        "create an app-level token with connections:write (xapp-…)")
    handler = SocketModeHandler(service.app, app_token)
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set():
            print(f"signoff: received signal {signum}, shutting down", file=sys.stderr)
            stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    handler.connect()
    print(f"signoff: serving as bot {service.bot_user} over Socket Mode; config "
          f"{service.config.policy_version}; sweep {'on' if service.scheduler else 'off'}",
          flush=True)
    while not stopping.wait(0.5):
        pass
    handler.close()  # disconnects, and waits for the envelopes being handled
    # Work a handler left after its ack (e.g. a decision to submit) finishes before the
    # decision pool and the ledger close (Service.close).
    service.app.listener_runner.listener_executor.shutdown(wait=True)
    return 0
