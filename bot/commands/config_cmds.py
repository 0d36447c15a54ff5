"""``signoff check-config``, ``signoff config-schema`` and ``signoff policy explain``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.commands.options import config_option, config_path
from escalation.canaries import canary_problems
from escalation.chains import effective_expiry
from escalation.config import (
    ConfigInvalid,
    Problem,
    Rule,
    SignoffConfig,
    config_json_schema,
    load_config,
)
from escalation.config_checks import DEFAULT_ROUTE
from escalation.deadlines import expiry_text
from escalation.durations import format_duration
from escalation.policy import Policy, Proposal
from escalation.policy_cases import load_cases, report, run_cases
from store.models import RiskTier

PROPOSAL_KEYS = ("action", "args", "requested_by", "confidence")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-config", help="validate signoff.yml and show what it sets up")
    p.add_argument("config_file", nargs="?", metavar="PATH",
                   help="the configuration file (default: SIGNOFF_CONFIG, else signoff.yml)")
    config_option(p)
    p.add_argument("--cases", metavar="FILE",
                   help="also run the policy unit cases in FILE (see `signoff policy test`)")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("config-schema", help="print the JSON Schema of signoff.yml")
    p.set_defaults(func=cmd_config_schema)

    policy = sub.add_parser("policy", help="ask the policy about an action")
    psub = policy.add_subparsers(dest="policy_cmd", required=True, metavar="COMMAND")
    p = psub.add_parser("explain", help="show what policy decides for an action; creates nothing")
    p.add_argument("action_file", metavar="ACTION.json",
                   help='a JSON file ("-" for stdin): {"action": ..., "args": {...}, '
                        '"requested_by": ..., "confidence": ...}; other keys are ignored')
    config_option(p)
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(func=cmd_policy_explain)
    p = psub.add_parser("test", help="run policy unit cases; exit 1 if an outcome changed")
    p.add_argument("cases_file", metavar="FILE",
                   help="a YAML file: cases: [{name, action, args, requested_by, confidence, "
                        "expect: {decision, tier, route, approvals, review, rule}}]")
    config_option(p)
    p.set_defaults(func=cmd_policy_test)
    from bot.commands.policy_cmds import register_policy  # needs the ledger: imported late
    register_policy(psub)


def _load(args: argparse.Namespace,
          warnings: list[Problem] | None = None) -> SignoffConfig | None:
    try:
        return load_config(config_path(args), warnings)
    except ConfigInvalid as exc:
        for problem in exc.problems:
            print(problem)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''}; "
              "signoff will not start with this configuration")
        return None


def cmd_check_config(args: argparse.Namespace) -> int:
    warnings: list[Problem] = []
    config = _load(args, warnings)
    if config is None:
        return 1
    problems = canary_problems(config)
    if problems:
        print(f"{config_path(args)}: " + "\n  ".join(["canaries that would give themselves "
                                                      "away:", *problems]), file=sys.stderr)
        return 1
    print(render_config(config, config_path(args)))
    if warnings:
        print(f"\nWarnings ({len(warnings)}; the configuration is valid)")
        for warning in warnings:
            print(f"  {warning}")
    if getattr(args, "cases", None):
        print()
        return _run_cases(config, args.cases)
    return 0


def cmd_policy_test(args: argparse.Namespace) -> int:
    config = _load(args)
    if config is None:
        return 2
    return _run_cases(config, args.cases_file)


def _run_cases(config: SignoffConfig, source: str) -> int:
    """0 when every case holds, 1 when an outcome changed, 2 when the file is unusable."""
    try:
        cases = load_cases(source)
    except ConfigInvalid as exc:
        for problem in exc.problems:
            print(problem)
        return 2
    results = run_cases(config, cases)
    print("\n".join(report(results, source)))
    return 0 if all(r.passed for r in results) else 1


def cmd_config_schema(args: argparse.Namespace) -> int:
    print(json.dumps(config_json_schema(), indent=2, ensure_ascii=False))
    return 0


def cmd_policy_explain(args: argparse.Namespace) -> int:
    proposal = _read_proposal(args.action_file)
    if proposal is None:
        return 2
    config = _load(args)
    if config is None:
        return 1
    policy = Policy(config)
    if args.json:
        data = policy.evaluate(proposal).model_dump(mode="json")
        notes = policy.fail_closed(proposal)
        data["checks"] = [{"rule": name, "matched": why is None, "why_not": why,
                           "fail_closed": notes.get(name, [])}
                          for name, why in policy.check(proposal)]
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(policy.explain(proposal))
    return 0


def _read_proposal(source: str) -> Proposal | None:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"signoff: cannot read {source}: {exc}", file=sys.stderr)
        return None
    if not isinstance(data, dict):
        print(f"signoff: {source} must hold a JSON object with action, args, requested_by",
              file=sys.stderr)
        return None
    try:
        return Proposal.model_validate({k: v for k, v in data.items() if k in PROPOSAL_KEYS})
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            print(f"signoff: {source}: {where}: {err['msg']}", file=sys.stderr)
        return None


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned plain-text columns, indented by two spaces."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in [list(headers), *rows]]


def render_config(config: SignoffConfig, path: str) -> str:
    head = (f"{path}: OK (version {config.version}, policy_version {config.policy_version}, "
            f"sweep every {format_duration(config.sweep_every)})")
    default = config.policy.default
    via = f" via route {DEFAULT_ROUTE}" if default == "require_approval" else ""
    lines = [head, "", "Routes", *_routes(config), "", "Reviewers", *_reviewers(config),
             "", "Chains (level times count from the request)", *_chains(config), "",
             f"Rules (the most severe match wins; actions no rule matches: {default}{via})",
             *_rules(config)]
    if config.canaries:
        lines += ["", "Canaries (test requests that must be rejected)", *_canaries(config)]
    return "\n".join(lines)


def _canaries(config: SignoffConfig) -> list[str]:
    rows = [[route, f"1 in {round(1 / spec.rate):g}", ", ".join(r.name for r in spec.requests)]
            for route, spec in config.canaries.items()]
    return table(["ROUTE", "RATE", "REQUESTS"], rows)


def _routes(config: SignoffConfig) -> list[str]:
    rows = [[name, r.channel, f"{r.approvers} ({', '.join(config.group(r.approvers))})",
             r.chain, str(r.approvals)] for name, r in config.routes.items()]
    return table(["NAME", "CHANNEL", "APPROVERS", "CHAIN", "APPROVALS"], rows)


def _reviewers(config: SignoffConfig) -> list[str]:
    return table(["GROUP", "MEMBERS"],
                 [[name, ", ".join(ids)] for name, ids in config.reviewers.items()])


def _chains(config: SignoffConfig) -> list[str]:
    rows = []
    for name, chain in config.chains.items():
        levels = "; ".join(f"{format_duration(at)}: {', '.join(level.notify)}"
                           for at, level in zip(chain.level_offsets(), chain.levels, strict=True))
        remind = format_duration(chain.remind_every) if chain.remind_every else "-"
        cap = "-" if chain.remind_max is None else str(chain.remind_max)
        rows.append([name, levels or "-", remind, str(chain.loops), cap,
                     expiry_text(name, chain)])
    return table(["NAME", "LEVELS", "REMIND EVERY", "LOOPS", "REMIND MAX", "EXPIRES AFTER"],
                 rows)


def _rules(config: SignoffConfig) -> list[str]:
    rows = [[name, conditions(rule), rule.decide, *_effect(config, rule)]
            for name, rule in zip(config.policy.rule_names(), config.policy.rules, strict=True)]
    headers = ["NAME", "WHEN", "DECIDE", "TIER", "ROUTE", "APPROVERS", "APPROVALS", "REVIEW",
               "EXPIRES AFTER", "REASON"]
    return table(headers, rows) if rows else ["  (no rules)"]


def _effect(config: SignoffConfig, rule: Rule) -> list[str]:
    if rule.decide != "require_approval":
        return [str(rule.tier or "-"), "-", "-", "-", "-", "-", rule.reason or "-"]
    tier = str(rule.tier or RiskTier.MEDIUM)
    route_name = rule.route or DEFAULT_ROUTE
    route = config.routes[route_name]
    # The real deadline; the Chains table and the warnings say when the chain's end sets it.
    expiry = format_duration(effective_expiry(config.chains[route.chain], rule.expire_after))
    return [tier, route_name, rule.approvers or route.approvers,
            str(rule.approvals or route.approvals), str(rule.review or "approval"),
            expiry, rule.reason or "-"]


def conditions(rule: Rule) -> str:
    """What a rule matches, in one line: ``action issue_refund, amount > 1000``."""
    parts: list[Any] = []
    if rule.action is not None:
        parts.append(f"action {rule.action}")
    parts += [predicate.describe(path) for path, predicate in rule.when.items()]
    if rule.requested_by is not None:
        parts.append(rule.requested_by.describe("requested_by"))
    if rule.confidence_below is not None:
        parts.append(f"confidence < {rule.confidence_below:g}")
    return ", ".join(parts)
