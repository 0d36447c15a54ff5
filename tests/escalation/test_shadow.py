"""Shadow policy: a candidate compared with the live policy, live and by replay."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bot import ApprovalClient, ApprovalDenied
from bot.commands.config_cmds import register
from escalation.config import load_config, parse_config
from escalation.policy import Proposal
from escalation.shadow import change, replay, summarise
from store.ledger import Ledger

FIXTURES = Path(__file__).parent.parent / "fixtures"
EXAMPLE = FIXTURES / "signoff.example.yml"
CANDIDATE_RULES = """
policy_candidate:
  policy_version: relax-small-refunds
  default: require_approval
  rules:
    - action: "search_*"
      decide: allow
    - action: issue_refund
      when: {amount: {lte: 50}}
      decide: allow
    - action: issue_refund
      when: {amount: {gt: 1000}}
      decide: require_approval
      tier: critical
      route: payments
      approvals: 2
    - action: issue_refund
      when: {amount: {gt: 50}}
      decide: require_approval
      tier: high
      route: payments
    - action: send_email
      decide: require_approval
      review: edit
    - action: drop_database
      decide: deny
"""


def _candidate_file(tmp_path: Path) -> Path:
    """A complete signoff.yml whose policy is the candidate's."""
    text = EXAMPLE.read_text()
    policy_at = text.index("policy:\n")
    rules = CANDIDATE_RULES.replace("policy_candidate:\n  policy_version: relax-small-refunds\n",
                                    "policy:\n")
    path = tmp_path / "candidate.yml"
    path.write_text(text[:policy_at] + rules.lstrip("\n"))
    return path


def _proposal(action: str, **args: object) -> Proposal:
    return Proposal(action=action, args=dict(args), requested_by="U0RITA")


def test_replay_lists_exactly_the_requests_the_candidate_treats_otherwise(tmp_path: Path) -> None:
    live, candidate = load_config(EXAMPLE), load_config(_candidate_file(tmp_path))
    proposals = [_proposal("issue_refund", amount=a, customer="c") for a in (20, 50, 51, 900)]
    proposals += [_proposal("search_orders", q="x"), _proposal("drop_database", name="db")]
    reports = summarise(replay(live, candidate, proposals))
    refunds = reports[0]
    assert (refunds.action, refunds.compared, refunds.disagreements) == ("issue_refund", 4, 2)
    assert dict(refunds.changes) == {"require_approval → allow": 2}
    assert [e["args"]["amount"] for e in refunds.examples["require_approval → allow"]] == [20, 50]
    assert all(r.disagreements == 0 for r in reports[1:])


def test_a_change_of_tier_or_approvals_is_a_disagreement_too() -> None:
    live = {"decision": "require_approval", "tier": "high", "route": "payments",
            "approvals": 1, "review": "approval"}
    stricter = {**live, "tier": "critical", "approvals": 2}
    assert change(live, stricter) == "tier high → critical, approvals 1 → 2"
    assert change(live, dict(live)) is None
    assert change({**live, "decision": "allow"}, {**live, "decision": "allow", "tier": "x"}) \
        is None


def test_every_request_is_shadow_evaluated_and_only_disagreements_recorded(
        ledger: Ledger) -> None:
    config = parse_config(EXAMPLE.read_text() + CANDIDATE_RULES, "signoff.yml")
    assert config.policy_candidate is not None
    client = ApprovalClient(ledger, config)
    small = client.request("issue_refund", {"amount": 30, "customer": "c"}, reason="r",
                           requested_by="U0RITA")
    client.request("issue_refund", {"amount": 300, "customer": "c"}, reason="r",
                   requested_by="U0RITA")
    with pytest.raises(ApprovalDenied):
        client.request("drop_database", {"name": "prod"}, reason="r", requested_by="U0RITA")
    # the live policy decided: the small refund still waits for a human
    assert ledger.get_ticket(small.id).status.value == "pending"
    shadow = [e for e in ledger.audit_events() if e.kind == "shadow_disagreement"]
    assert [(e.ticket_id, e.data["change"]) for e in shadow] == [
        (small.id, "require_approval → allow")]
    assert shadow[0].data["candidate"]["policy_version"] == "relax-small-refunds"
    assert shadow[0].data["candidate"]["rule"] == "rules[1] issue_refund"


def _run(argv: list[str], db_url: str, config: Path, capsys: pytest.CaptureFixture[str]
         ) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="signoff")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.default_config = str(config)
    args.settings = argparse.Namespace(database_url=db_url, audit_key_bytes=None)
    code = args.func(args)
    return code, capsys.readouterr().out


def test_shadow_report_replays_the_ledger_through_a_candidate_file(
        ledger: Ledger, db_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    client = ApprovalClient(ledger, load_config(EXAMPLE))
    for amount in (10, 40, 400):
        client.request("issue_refund", {"amount": amount, "customer": "c"}, reason="r",
                       requested_by="U0RITA")
    with pytest.raises(ApprovalDenied):
        client.request("drop_database", {"name": "prod"}, reason="r", requested_by="U0RITA")
    code, out = _run(["policy", "shadow-report", "--candidate", str(_candidate_file(tmp_path)),
                      "--json"], db_url, EXAMPLE, capsys)
    assert code == 0
    report = json.loads(out)
    assert report["mode"] == "replay"
    by_action = {a["action"]: a for a in report["actions"]}
    assert by_action["issue_refund"]["compared"] == 3
    assert by_action["issue_refund"]["changes"] == {"require_approval → allow": 2}
    assert by_action["drop_database"] == {**by_action["drop_database"], "compared": 1,
                                          "disagreements": 0}
    code, text = _run(["policy", "shadow-report", "--candidate",
                       str(_candidate_file(tmp_path))], db_url, EXAMPLE, capsys)
    assert "issue_refund: 2 of 3 would change" in text
    assert "require_approval → allow" in text


def test_shadow_report_without_a_candidate_says_how_to_get_one(
        ledger: Ledger, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["policy", "shadow-report"], db_url, EXAMPLE, capsys)
    assert code == 2
    assert "policy_candidate:" in out


def test_a_candidate_referring_to_an_unknown_route_is_a_config_error() -> None:
    bad = CANDIDATE_RULES.replace("route: payments\n      approvals: 2",
                                  "route: paymnets\n      approvals: 2")
    with pytest.raises(Exception) as exc:
        parse_config(EXAMPLE.read_text() + bad, "signoff.yml")
    assert "policy_candidate.rules[2].route" in str(exc.value)
