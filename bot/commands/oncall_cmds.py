"""``signoff oncall who`` and ``signoff oncall import-pagerduty``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.commands.options import config_option, config_path
from escalation.chains import EscalationPlan, PlannedLevel, plan
from escalation.config import Chain, ConfigInvalid, load_config
from escalation.durations import DurationError, format_duration, parse_duration
from escalation.pagerduty import import_policy
from escalation.schedules import Schedule
from store.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    oncall = sub.add_parser("oncall", help="on-call chains: who gets called, PagerDuty import")
    osub = oncall.add_subparsers(dest="oncall_cmd", required=True, metavar="COMMAND")

    p = osub.add_parser("who", help="who a request would reach at each level of a chain")
    p.add_argument("chain", metavar="CHAIN", help="a chain name from signoff.yml")
    p.add_argument("--at", metavar="TIME", default=None,
                   help="when the request is created: ISO 8601, e.g. 2026-03-08T09:00-05:00 "
                        "(without an offset: UTC; default: now)")
    config_option(p)
    p.set_defaults(func=cmd_who)

    p = osub.add_parser("import-pagerduty",
                        help="turn a PagerDuty escalation policy (and schedules) into chain YAML")
    p.add_argument("policy", metavar="POLICY.json",
                   help="GET /escalation_policies/{id} output")
    p.add_argument("--schedules", metavar="S.json", action="append", default=[],
                   help="GET /schedules/{id} output for each schedule the policy targets "
                        "(repeatable; a file may also hold a list)")
    p.add_argument("--identity", metavar="MAP.yml", required=True,
                   help="PagerDuty user id or email -> Slack member id (under users:)")
    p.add_argument("--name", help="the chain's name (default: from the policy's name)")
    p.add_argument("--expire-after", metavar="DURATION",
                   help="the hard deadline (default: when the chain is exhausted)")
    p.add_argument("--remind-every", metavar="DURATION", help="thread reminders (default: none)")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=cmd_import_pagerduty)


# -- who ----------------------------------------------------------------------------------------


def cmd_who(args: argparse.Namespace) -> int:
    try:
        at = parse_time(args.at)
        config = load_config(config_path(args))
        chain = config.chain(args.chain)
        fixed = plan(chain, created_at=at, schedules=config.schedules, name=args.chain)
    except ConfigInvalid as exc:
        print("\n".join(str(p) for p in exc.problems), file=sys.stderr)
        return 1
    except (ConfigError, ValueError) as exc:
        print(f"signoff oncall who: {exc}", file=sys.stderr)
        return 2
    print(render_who(args.chain, chain, fixed, at))
    return 0


def parse_time(text: str | None) -> datetime:
    if text is None or text == "now":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at {text!r} is not an ISO 8601 time, e.g. 2026-03-08T09:00Z"
                         ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def render_who(name: str, chain: Chain, fixed: EscalationPlan, at: datetime) -> str:
    lines = [f"chain {name}, for a request created {_when(at)}"]
    if chain.remind_every:
        cap = f", at most {chain.remind_max}" if chain.remind_max is not None else ""
        lines.append(f"  reminders in the card's thread every "
                     f"{format_duration(chain.remind_every)}{cap}")
    for level in fixed.levels:
        lines.append(f"  {_offset(level.at - at):>8}  {_when(level.at)}  "
                     f"level {level.level}{_pass(level)}  {_people(level)}")
    why = ("the chain is exhausted" if fixed.end_of_chain == fixed.expires_at
           else "expire_after")
    lines.append(f"  {_offset(fixed.expires_at - at):>8}  {_when(fixed.expires_at)}  "
                 f"expires ({why}): a denial, nothing runs")
    return "\n".join(lines)


def _people(level: PlannedLevel) -> str:
    shown = [f"{t} (via {level.via[t]})" if t in level.via else t for t in level.targets]
    shown += [f"nobody on call in {s}" for s in level.nobody]
    text = ", ".join(shown) or "nobody"
    return f"one of: {text} (round robin)" if level.round_robin and level.targets else text


def _pass(level: PlannedLevel) -> str:
    return f" (pass {level.loop + 1})" if level.loop else ""


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _offset(value: Any) -> str:
    return "+" + (format_duration(value) if value.total_seconds() > 0 else "0s")


# -- import-pagerduty -----------------------------------------------------------------------------


def cmd_import_pagerduty(args: argparse.Namespace) -> int:
    try:
        text = import_text(Path(args.policy), [Path(s) for s in args.schedules],
                           Path(args.identity), name=args.name,
                           expire_after=args.expire_after, remind_every=args.remind_every)
    except (ConfigError, OSError, ValueError, KeyError, TypeError) as exc:
        print(f"signoff oncall import-pagerduty: {_reason(exc)}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}; paste its chains: and schedules: into signoff.yml")
    else:
        sys.stdout.write(text)
    return 0


def import_text(policy: Path, schedules: Sequence[Path], identity: Path, *,
                name: str | None = None, expire_after: str | None = None,
                remind_every: str | None = None) -> str:
    """The YAML for ``chains:`` (and ``schedules:``), validated like ``signoff.yml``."""
    schedule_data = [json.loads(p.read_text(encoding="utf-8")) for p in schedules]
    identity_map = yaml.safe_load(identity.read_text(encoding="utf-8")) or {}
    sections = import_policy(
        json.loads(policy.read_text(encoding="utf-8")), identity_map,
        schedules_json=schedule_data or None, name=name,
        expire_after=parse_duration(expire_after) if expire_after else None,
        remind_every=parse_duration(remind_every) if remind_every else None)
    _validate(sections)
    header = (f"# Imported from PagerDuty ({policy.name}). Each level's after is the wait\n"
              "# before it; the first level's after is also the last level's time to answer.\n")
    return header + yaml.safe_dump(sections, sort_keys=False, allow_unicode=True,
                                   default_flow_style=None, width=100)


def _validate(sections: dict[str, Any]) -> None:
    try:
        for chain in sections["chains"].values():
            Chain.model_validate(chain)
        for schedule in sections.get("schedules", {}).values():
            Schedule.model_validate(schedule)
    except ValidationError as exc:
        raise ConfigError(f"the imported chain does not validate: {exc}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DurationError | ConfigError):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc}"
    if isinstance(exc, OSError):
        return f"cannot read {exc.filename}: {exc.strerror}"
    return f"unexpected PagerDuty JSON ({type(exc).__name__}: {exc})"
