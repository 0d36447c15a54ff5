"""``signoff eval export`` and ``signoff eval schema``: reviewer corrections as eval cases."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

from bot.commands.evalcases import eval_case, eval_case_schema
from bot.commands.store_cmds import open_ledger
from escalation.durations import DurationError, parse_duration
from store.stats import QualityStats

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ev = sub.add_parser("eval", help="reviewer corrections as evaluation cases")
    esub = ev.add_subparsers(dest="eval_cmd", required=True, metavar="COMMAND")
    p = esub.add_parser("export", help="one JSON case per edited, rejected, taken-over or "
                        "questioned request (schema: signoff eval schema)")
    p.add_argument("--since", type=_since, metavar="WHEN",
                   help="a duration back from now (30d) or an ISO time (2026-11-01); "
                        "default: everything")
    p.add_argument("--action", help="only this action")
    p.add_argument("--format", choices=["jsonl"], default="jsonl")
    p.add_argument("--redact", action="store_true",
                   help="drop free text (summaries, reasons, evidence, outcome text)")
    p.set_defaults(func=cmd_eval_export)
    p = esub.add_parser("schema", help="print the JSON Schema of one exported case")
    p.set_defaults(func=cmd_eval_schema)


def _since(text: str) -> timedelta | datetime:
    try:
        return parse_duration(text)
    except DurationError:
        pass
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (30d, 12h) nor an ISO time (2026-11-01)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_eval_export(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        since = args.since or EPOCH
        if isinstance(since, timedelta):
            since = ledger.db_now() - since
        found = QualityStats(ledger.engine).corrections(since, action=args.action)
    finally:
        ledger.close()
    for correction in found:
        case = eval_case(correction, redact=args.redact)
        print(json.dumps(case.model_dump(mode="json"), sort_keys=True, ensure_ascii=False))
    return 0


def cmd_eval_schema(args: argparse.Namespace) -> int:
    print(json.dumps(eval_case_schema(), indent=2, sort_keys=True))
    return 0
