"""``signoff audit verify|checkpoint|export``: the audit trail, for operators and auditors."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bot.commands.store_cmds import open_ledger, parse_time
from store.checkpoint import Checkpoint, parse_lines
from store.errors import CheckpointInvalid, ConfigError

DEFAULT_CHECKPOINTS = Path("signoff-audit-checkpoints.jsonl")
EXIT_BROKEN = 1
EXIT_KEY_MISSING = 3


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    aud = sub.add_parser("audit", help="verify, checkpoint or export the audit trail")
    asub = aud.add_subparsers(dest="audit_cmd", required=True)
    p = asub.add_parser(
        "verify", help="check every event, ticket and seal; exit 1 naming the first bad one",
        description="Exit 0: intact. Exit 1: tampering found (named). Exit 3: the trail or a "
                    "checkpoint is signed with SIGNOFF_AUDIT_KEY, which is not set.")
    p.add_argument("--checkpoint", type=Path, metavar="FILE",
                   help="also check that every checkpoint in FILE is still in the chain "
                        "(detects a rewound or wiped tail)")
    p.set_defaults(func=cmd_audit_verify)
    p = asub.add_parser(
        "checkpoint", help="seal pending events and append the signed chain head to a file",
        description="Keep FILE where the database's users cannot write (another host, "
                    "append-only storage); run this regularly, e.g. from cron.")
    p.add_argument("--to", type=Path, default=DEFAULT_CHECKPOINTS, metavar="FILE",
                   help=f"append-only JSON-lines file (default: {DEFAULT_CHECKPOINTS})")
    p.add_argument("--slack-channel", metavar="CHANNEL",
                   help="also post the checkpoint to this Slack channel (an audit channel)")
    p.set_defaults(func=cmd_audit_checkpoint)
    p = asub.add_parser("export", help="export audit events for auditors")
    p.add_argument("--format", choices=["jsonl"], default="jsonl")
    p.add_argument("--since", type=parse_time, help="ISO time, e.g. 2026-11-01T00:00:00Z")
    p.add_argument("--ticket", help="only this ticket's events")
    p.set_defaults(func=cmd_audit_export)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    checkpoints: list[Checkpoint] = []
    if args.checkpoint is not None:
        try:
            text = args.checkpoint.read_text(encoding="utf-8")
        except OSError as exc:
            raise CheckpointInvalid(f"cannot read {args.checkpoint}: {exc.strerror}") from None
        checkpoints = parse_lines(text, source=str(args.checkpoint))
    report = open_ledger(args).verify_audit(checkpoints)
    print(report, file=sys.stdout if report.ok else sys.stderr)
    if report.key_missing:
        return EXIT_KEY_MISSING
    return 0 if report.ok else EXIT_BROKEN


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        cp = ledger.audit_checkpoint(database=ledger.engine.url.render_as_string(
            hide_password=True))
    finally:
        ledger.close()
    _append(args.to, cp.line())
    signed = (f"signed with key id {cp.key_id}" if cp.sig else
              "UNSIGNED: set SIGNOFF_AUDIT_KEY to sign checkpoints")
    print(f"checkpoint: seal {cp.seal}, hash {cp.hash[:16]}…, appended to {args.to} ({signed})")
    if args.slack_channel:
        ts = _post(args, cp)
        print(f"posted to Slack channel {args.slack_channel} (ts {ts})")
    return 0


def _append(path: Path, line: str) -> None:
    """Append one line and make it durable before saying so."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise CheckpointInvalid(f"cannot append to {path}: {exc.strerror}") from None


def _post(args: argparse.Namespace, cp: Checkpoint) -> str:
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.slack.webapi import make_web_client, slack_error

    token = args.settings.slack_bot_token
    if token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set; --slack-channel posts with the bot token")
    client = make_web_client(token.get_secret_value(), args.settings.slack_api_url)
    text = (f"signoff audit checkpoint: seal {cp.seal}, taken {cp.at.isoformat()}\n"
            f"```{cp.line()}```")
    try:
        response = client.chat_postMessage(channel=args.slack_channel, text=text)
    except (SlackApiError, SlackClientError, OSError) as exc:
        raise ConfigError(f"the checkpoint is in {args.to}, but posting it to Slack channel "
                          f"{args.slack_channel} failed: {slack_error(exc)}") from exc
    return str(response["ts"])


def cmd_audit_export(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    for event in ledger.audit_events(ticket_id=args.ticket, since=args.since):
        print(json.dumps(event.model_dump(mode="json"), sort_keys=True, ensure_ascii=False))
    return 0
