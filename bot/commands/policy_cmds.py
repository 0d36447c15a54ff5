"""``signoff policy shadow-report``: where a candidate policy would decide otherwise."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.commands.options import config_option, config_path, window
from bot.commands.store_cmds import open_ledger
from escalation.config import ConfigInvalid, SignoffConfig, load_config
from escalation.policy import Proposal
from escalation.shadow import ActionReport, candidate_config, from_events, replay, summarise
from escalation.suggest_report import suggest_report
from store.ledger import Ledger
from store.policies import policy_version, policy_versions
from store.proposals import recorded_proposals


def register_policy(psub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = psub.add_parser("shadow-report",
                        help="where a candidate policy would decide otherwise than the live one")
    p.add_argument("--candidate", metavar="FILE",
                   help="a complete signoff.yml to compare: every recorded request since "
                        "--since is replayed through both (default: the disagreements "
                        "recorded live by policy_candidate: in signoff.yml)")
    p.add_argument("--since", type=window, default=timedelta(days=30), metavar="DURATION",
                   help="how far back to look, e.g. 7d (default 30d)")
    config_option(p)
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.set_defaults(func=cmd_shadow_report)
    p = psub.add_parser("suggest", help="propose relaxing or tightening rules from the "
                        "decision record, as a diff of signoff.yml (never written)")
    p.add_argument("--since", type=window, default=timedelta(days=30), metavar="DURATION",
                   help="how far back to read decisions, e.g. 14d (default 30d)")
    config_option(p)
    p.add_argument("--json", action="store_true", help="the suggestions as JSON")
    p.set_defaults(func=cmd_suggest)
    p = psub.add_parser("versions", help="the policy versions that have decided requests")
    p.set_defaults(func=cmd_versions)
    p = psub.add_parser("show", help="the exact rules of a recorded policy version, as JSON")
    p.add_argument("version", metavar="VERSION", help="as recorded on tickets (policy_version)")
    p.set_defaults(func=cmd_show)


def cmd_versions(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        versions = policy_versions(ledger)
    finally:
        ledger.close()
    for v in versions:
        rules = len(v.policy.get("rules") or [])
        print(f"{v.first_applied_at:%Y-%m-%d %H:%M}  {v.version:<28} {rules:>3} rules  "
              f"sha256:{v.digest[:12]}")
    if not versions:
        print("no policy version recorded yet (one is recorded when signoff serve or an "
              "agent's client starts)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        found = policy_version(ledger, args.version)
    finally:
        ledger.close()
    if found is None:
        print(f"signoff: no policy version {args.version!r} is recorded; "
              "`signoff policy versions` lists them")
        return 1
    print(json.dumps(found.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return 0


def _config(path: str) -> SignoffConfig | None:
    try:
        return load_config(path)
    except ConfigInvalid as exc:
        for problem in exc.problems:
            print(problem)
        return None


def cmd_shadow_report(args: argparse.Namespace) -> int:
    live = _config(config_path(args))
    candidate = _config(args.candidate) if args.candidate else None
    if live is None or (args.candidate and candidate is None):
        return 2
    ledger = open_ledger(args)
    try:
        since = ledger.db_now() - args.since
        reports, mode = _reports(ledger, live, candidate, since)
    finally:
        ledger.close()
    if reports is None:
        print("signoff: nothing to compare: give --candidate FILE, or add policy_candidate: "
              "to signoff.yml so every request is shadow-evaluated")
        return 2
    if args.json:
        print(json.dumps({"mode": mode, "since": since.isoformat(),
                          "actions": [r.as_json() for r in reports]}, indent=2,
                         ensure_ascii=False, default=str))
    else:
        print("\n".join(render(reports, mode, since)))
    return 0


def _reports(ledger: Ledger, live: SignoffConfig, candidate: SignoffConfig | None,
             since: datetime) -> tuple[list[ActionReport] | None, str]:
    if candidate is not None:
        proposals = [(Proposal(action=p.action, args=p.args, requested_by=p.requested_by,
                               confidence=p.confidence), p.ticket_id)
                     for p in recorded_proposals(ledger, since)]
        return summarise(replay(live, candidate, proposals)), "replay"
    events = [e.data for e in ledger.audit_events(since=since)
              if e.kind == "shadow_disagreement"]
    if candidate_config(live) is None and not events:
        return None, "recorded"
    return summarise(from_events(events)), "recorded"


def render(reports: list[ActionReport], mode: str, since: datetime) -> list[str]:
    what = ("recorded requests replayed through both policies" if mode == "replay"
            else "disagreements recorded live by policy_candidate")
    lines = [f"Shadow report since {since:%Y-%m-%d %H:%M} UTC ({what})"]
    disagreeing = [r for r in reports if r.disagreements]
    if not disagreeing:
        lines.append("no disagreements" + (f" in {sum(r.compared for r in reports)} requests"
                                           if mode == "replay" else ""))
        return lines
    for report in disagreeing:
        scope = f" of {report.compared}" if mode == "replay" else ""
        lines.append(f"\n{report.action}: {report.disagreements}{scope} would change")
        for what, count in sorted(report.changes.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {count:>5}  {what}")
            for example in report.examples[what]:
                lines.append(f"         e.g. {_example(example)}")
    return lines


def _example(example: dict[str, Any]) -> str:
    args = json.dumps(example["args"], ensure_ascii=False, default=str)
    args = args if len(args) <= 100 else args[:99] + "…"
    ticket = example.get("ticket") or "(denied, no ticket)"
    return (f"{ticket} {args}  [live rule {example['live_rule']}, "
            f"candidate rule {example['candidate_rule']}]")


def cmd_suggest(args: argparse.Namespace) -> int:
    path = config_path(args)
    config = _config(path)
    if config is None:
        return 2
    text = Path(path).read_text(encoding="utf-8")
    ledger = open_ledger(args)
    try:
        until = ledger.db_now()
        report = suggest_report(ledger, config, text, path, since=until - args.since,
                                until=until)
    finally:
        ledger.close()
    found, since = report.suggestions, report.since
    if args.json:
        print(json.dumps({"since": since.isoformat(), "weak_reviewers": sorted(report.weak),
                          "suggestions": [asdict(s) for s in found]}, indent=2,
                         ensure_ascii=False, default=str))
        return 0
    if not found:
        print(f"no suggestions from {report.reviewed} reviewed requests since "
              f"{since:%Y-%m-%d} (thresholds under suggest: in signoff.yml)")
        return 0
    for s in found:
        print(f"- {s.evidence}")
    print()
    print(report.diff, end="")
    for note in report.notes:
        print(f"note: {note}")
    print("\nNothing was changed: review the diff and apply it to signoff.yml yourself.")
    return 0
