"""``signoff policy suggest`` on a seeded ledger with known answers."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.commands.config_cmds import register
from escalation.config import parse_config
from escalation.suggest_diff import apply, unified
from escalation.yaml_marks import load_yaml
from store.ledger import Ledger
from store.models import DecisionKind, NewTicket, Route
from tests.conftest import TicketFactory

EXAMPLE = Path(__file__).parent.parent / "fixtures" / "signoff.example.yml"
PAYMENTS = Route(name="payments", channel="C0PAYMENTS", approvers=("U0LEAD", "U0FINOPS"))
EMAIL = Route(name="default", channel="C0APPROVALS", approvers=("U0LEAD", "U0FINOPS"))


def _seed_refunds(ledger: Ledger, make_ticket: TicketFactory, count: int = 60) -> None:
    """``count`` refunds of 10..59 sent to review by the high-tier rule, all approved as is,
    by two reviewers in turn, each about two minutes after the request (a real look)."""
    now = ledger.db_now()
    for i in range(count):
        t, _ = ledger.create_ticket(_new(
            ledger, "issue_refund", {"amount": 10 + i % 50, "customer": f"cus_{i}"},
            "rules[2] issue_refund", PAYMENTS), at=now - timedelta(minutes=2))
        ledger.record_decision(t.id, reviewer=("U0LEAD", "U0FINOPS")[i % 2],
                               kind=DecisionKind.APPROVE)


def _seed_emails(ledger: Ledger, make_ticket: TicketFactory) -> None:
    """30 emails before the last week (1 rejected), 12 in it (4 rejected)."""
    now = ledger.db_now()
    for i in range(42):
        recent = i >= 30
        rejected = (i == 3) or (recent and i % 3 == 0)
        at = now - (timedelta(days=2) if recent else timedelta(days=20))
        ticket, _ = ledger.create_ticket(_new(
            ledger, "send_email", {"to": f"c{i}@example.com", "body": "hi"},
            "rules[3] send_email", EMAIL), at=at)
        ledger.record_decision(ticket.id, reviewer="U0FINOPS",
                               kind=DecisionKind.REJECT if rejected else DecisionKind.APPROVE,
                               reason="wrong recipient" if rejected else None)


def _new(ledger: Ledger, action: str, args: dict[str, Any], rule: str, route: Route
         ) -> NewTicket:
    return NewTicket(action=action, args=args, requested_by="U0REQUESTER", reason="r",
                     route=route, policy_version="2026-11-20", policy_rule=rule,
                     expires_at=ledger.db_now() + timedelta(hours=1))


def _run(db_url: str, config: Path, capsys: pytest.CaptureFixture[str], *extra: str
         ) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="signoff")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["policy", "suggest", "--config", str(config), *extra])
    args.settings = argparse.Namespace(database_url=db_url, audit_key_bytes=None)
    return args.func(args), capsys.readouterr().out


def test_always_approved_refunds_are_proposed_to_run_up_to_the_largest_approved(
        ledger: Ledger, db_url: str, make_ticket: TicketFactory, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _seed_refunds(ledger, make_ticket)
    _seed_emails(ledger, make_ticket)
    config = tmp_path / "signoff.yml"
    config.write_text(EXAMPLE.read_text())
    code, out = _run(db_url, config, capsys, "--json")
    assert code == 0
    found = json.loads(out)["suggestions"]
    assert [(s["kind"], s["action"], s["rule"]) for s in found] == [
        ("relax", "issue_refund", "rules[2] issue_refund"),
        ("tighten", "send_email", "rules[3] send_email")]
    relax, tighten = found
    assert (relax["arg"], relax["bound"]) == ("amount", 59)
    assert relax["evidence"].startswith("issue_refund with amount ≤ 59: 60 approved, 0 edited, "
                                        "0 rejected in 30 days")
    assert tighten["change"] == {"approvals": 2}
    assert "33% edited or rejected in the last 7d vs 3% before" in tighten["evidence"]
    # the text form: evidence, a diff that parses into the intended policy, and no write
    before = config.read_text()
    code, text = _run(db_url, config, capsys)
    assert config.read_text() == before
    assert "+    - action: issue_refund" in text and "+      when: {amount: {lte: 59}}" in text
    assert "Nothing was changed" in text


def test_the_suggested_diff_is_a_valid_policy_that_allows_the_range_and_reviews_the_rest(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    from escalation.policy import Policy, Proposal
    from escalation.suggest import Suggestion
    text = EXAMPLE.read_text()
    relax = Suggestion("relax", "issue_refund", 2, "rules[2] issue_refund", "e", "amount", 59)
    edited, notes = apply(text, load_yaml(text)[1], [relax])
    assert notes == [] and unified(text, edited, "signoff.yml").startswith("--- signoff.yml")
    policy = Policy(parse_config(edited, "edited.yml"))

    def decide(amount: int) -> str:
        return policy.evaluate(Proposal(action="issue_refund", requested_by="U0R",
                                        args={"amount": amount, "customer": "c"})).decision
    assert [decide(a) for a in (59, 60, 5000)] == ["allow", "require_approval",
                                                    "require_approval"]


def test_relax_never_and_weak_reviewers_block_relaxing(
        ledger: Ledger, db_url: str, make_ticket: TicketFactory, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _seed_refunds(ledger, make_ticket)
    never = tmp_path / "never.yml"
    never.write_text(EXAMPLE.read_text().replace(
        "      tier: high\n      route: payments\n",
        "      tier: high\n      route: payments\n      relax: never\n"))
    code, out = _run(db_url, never, capsys, "--json")
    assert code == 0 and json.loads(out)["suggestions"] == []
    # reviewers who never disagree over 20+ decisions are rubber-stamp flagged: weak evidence
    weak = tmp_path / "weak.yml"
    weak.write_text(EXAMPLE.read_text() + "quality:\n  never_disagree_after: 20\n")
    code, out = _run(db_url, weak, capsys, "--json")
    report = json.loads(out)
    assert report["weak_reviewers"] == ["U0FINOPS", "U0LEAD"]
    assert report["suggestions"] == []


def test_a_rejection_anywhere_in_the_window_keeps_the_review(
        ledger: Ledger, db_url: str, make_ticket: TicketFactory, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _seed_refunds(ledger, make_ticket)
    t = make_ticket(args={"amount": 20, "customer": "x"}, policy_rule="rules[2] issue_refund")
    ledger.record_decision(t.id, reviewer="U0LEAD", kind=DecisionKind.REJECT, reason="fraud")
    code, out = _run(db_url, EXAMPLE, capsys, "--json")
    assert code == 0
    assert [s["kind"] for s in json.loads(out)["suggestions"]] == []
