"""One effective deadline: a request expires at the earlier of ``expire_after`` and the end of
its chain, and ``check-config``, ``policy explain``, ``oncall who``, the ticket and its card
all show that one figure; ``check-config`` warns when the chain's end pre-empts expire_after."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.agent.client import ApprovalClient
from bot.commands import config_cmds, oncall_cmds
from bot.render import render_card
from escalation.config import load_config
from store.ledger import Ledger

# The example: one level after 1m, expire_after 5m. The chain ends one first-level
# wait after the last DM, at 2m, so 2m is the deadline, not 5m.
SHORT = """\
version: 1
policy_version: deadline-test
reviewers:
  ops: [U0OPS]
routes:
  default: {channel: C0OPS, approvers: ops, chain: short}
  roomy: {channel: C0ROOMY, approvers: ops, chain: roomy}
chains:
  short:
    levels:
      - {notify: [U0ONCALL], after: 1m}
    expire_after: 5m
  roomy:
    levels:
      - {notify: [U0ONCALL], after: 30m}
    expire_after: 45m
policy:
  default: require_approval
  rules:
    - {action: slow_thing, decide: require_approval, expire_after: 4m}
    - {action: roomy_thing, decide: require_approval, route: roomy}
"""


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="signoff")
    sub = parser.add_subparsers(dest="command", required=True)
    config_cmds.register(sub)
    oncall_cmds.register(sub)
    args = parser.parse_args(argv)
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "signoff.yml"
    path.write_text(SHORT)
    return path


def test_check_config_shows_the_real_deadline_and_warns(config_file: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(["check-config", str(config_file)], capsys)
    assert code == 0
    chains = out.split("\nChains")[1].split("\nRules")[0].splitlines()
    short = next(line for line in chains if line.startswith("  short "))
    assert short.endswith("2m (chain short ends first; expire_after 5m)")
    roomy = next(line for line in chains if line.startswith("  roomy "))
    assert roomy.endswith("45m")  # 30m + 30m = 1h: expire_after comes first, no warning
    assert "Warnings (2; the configuration is valid)" in out
    assert (f"{config_file}:12 chains.short.expire_after: chain short ends 2m after the "
            "request") in out
    assert f"{config_file}:20 policy.rules[0].expire_after: chain short ends 2m" in out
    assert "write expire_after: 2m to say so" in out
    assert "chains.roomy" not in out.split("Warnings")[1]


def test_policy_explain_shows_the_real_deadline(config_file: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    action = tmp_path / "action.json"
    action.write_text(json.dumps({"action": "launch", "args": {}, "requested_by": "U0A"}))
    code, out = _cli(["policy", "explain", str(action), "--config", str(config_file)], capsys)
    assert code == 0
    assert "expires after: 2m (chain short ends first; expire_after 5m)" in out
    code, out = _cli(["policy", "explain", str(action), "--json", "--config",
                      str(config_file)], capsys)
    assert json.loads(out)["expire_after"] == "2m"


def test_oncall_who_shows_the_real_deadline(config_file: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(["oncall", "who", "short", "--at", "2026-01-05T12:00Z", "--config",
                      str(config_file)], capsys)
    assert code == 0
    assert "12:02" in out and "expires (the chain is exhausted)" in out and "12:05" not in out


@pytest.mark.parametrize(("action", "deadline"), [("launch", timedelta(minutes=2)),
                                                  ("slow_thing", timedelta(minutes=2)),
                                                  ("roomy_thing", timedelta(minutes=45))])
def test_the_ticket_and_its_card_carry_the_same_deadline(ledger: Ledger, config_file: Path,
                                                         action: str,
                                                         deadline: timedelta) -> None:
    client = ApprovalClient(ledger, load_config(config_file))
    outcome = client.evaluate(action, {}, requested_by="U0REQUESTER")
    assert outcome.expire_after == deadline
    ticket = client.request(action, {}, reason="r", requested_by="U0REQUESTER")
    assert ticket.expires_at - ticket.created_at == deadline
    assert ledger.get_ticket(ticket.id).expires_at == ticket.expires_at
    card = json.dumps(render_card(ticket)["blocks"])
    assert f"<!date^{int(ticket.expires_at.timestamp())}^" in card
