"""The ``batch:`` key of a rule: validated with file, line, key and fix; and which requests
may ever share a batch card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escalation.batching import BatchConfig, plan_for, rule_batch
from escalation.config import ConfigInvalid, load_config, parse_config
from store.models import ReviewType, RiskTier, Route, Ticket, TicketStatus
from tests.escalation.test_config import EXAMPLE_TEXT, line_of

HIGH = "      tier: high\n      route: payments\n"
CRITICAL = "      tier: critical\n      route: payments\n      approvals: 2\n"


def with_batch(after: str, batch: str = "{max: 20, window: 2m}", text: str = EXAMPLE_TEXT
               ) -> str:
    assert after in text
    return text.replace(after, f"{after}      batch: {batch}\n", 1)


def problem_at(text: str, tmp_path: Path) -> list[str]:
    file = tmp_path / "signoff.yml"
    file.write_text(text)
    with pytest.raises(ConfigInvalid) as info:
        load_config(file)
    return [f"{p.line}|{p.key}|{p.message}|{p.fix}" for p in info.value.problems]


def test_a_batch_key_is_read_into_the_rule() -> None:
    config = parse_config(with_batch(HIGH), "signoff.yml")
    rules = dict(zip(config.policy.rule_names(), config.policy.rules, strict=True))
    batch = rule_batch(rules, "rules[2] issue_refund")
    assert batch == BatchConfig(max=20, window=timedelta(minutes=2))
    assert rule_batch(rules, "rules[1] issue_refund") is None


@pytest.mark.parametrize(("after", "message"), [
    (CRITICAL, "critical requests are never batched"),
    ("      review: escalation\n", "escalation reviews are never batched"),
])
def test_batch_on_a_rule_that_is_never_batched_is_a_placed_error(
        tmp_path: Path, after: str, message: str) -> None:
    text = with_batch(after)
    found = problem_at(text, tmp_path)
    line = line_of(text, "batch:")
    assert any(f.startswith(f"{line}|") and "batch" in f.split("|")[1] and message in f
               and "remove batch:" in f for f in found), found


def test_batch_on_a_two_person_route_is_refused(tmp_path: Path) -> None:
    text = with_batch(HIGH).replace("    chain: payments-oncall\n",
                                    "    chain: payments-oncall\n    approvals: 2\n", 1)
    found = problem_at(text, tmp_path)
    assert any("2 approvals are never batched" in f for f in found), found


def test_batch_on_an_allow_rule_is_refused(tmp_path: Path) -> None:
    text = with_batch('      decide: allow\n')
    found = problem_at(text, tmp_path)
    assert any("batch only applies to rules that decide: require_approval" in f
               for f in found), found


@pytest.mark.parametrize(("batch", "needle"), [
    ("{max: 1}", "max"), ("{max: 500}", "max"), ("{window: soon}", "window"),
    ("{max: 5, every: 2m}", "every"), ("{window: 0s}", "window"), ("{window: 2h}", "window"),
])
def test_bad_batch_values_name_their_key(tmp_path: Path, batch: str, needle: str) -> None:
    text = with_batch(HIGH, batch)
    found = problem_at(text, tmp_path)
    line = line_of(text, "batch:")
    assert any(f.startswith(f"{line}|") and f.split("|")[1].endswith(needle)
               for f in found), found


def ticket(**changes: object) -> Ticket:
    at = datetime(2026, 11, 26, 12, tzinfo=UTC)
    base = Ticket(
        id="t1", idempotency_key=None, action="issue_refund", args={"amount": 5},
        args_hash="h", final_args={"amount": 5}, final_args_hash="h",
        review_type=ReviewType.APPROVAL, summary=None, reason="r", evidence=(),
        confidence=None, requested_by="U0REQ", agent="refund-bot", run_id=None,
        tier=RiskTier.HIGH, route=Route(name="payments", channel="C0P", approvers=("U0A",)),
        policy_version="1", policy_rule="refunds", status=TicketStatus.PENDING, version=1,
        approvals=(), decided_by=None, decided_at=None, created_at=at,
        expires_at=at + timedelta(hours=1), next_action_at=None, escalation_level=0,
        escalation_loop=0, escalation=None, card=None)
    return base.model_copy(update=changes)


def test_only_similar_batchable_requests_share_a_key() -> None:
    batch = BatchConfig()
    plan = plan_for(ticket(), batch)
    assert plan is not None and plan.max == 50 and plan.window == timedelta(minutes=2)
    same = plan_for(ticket(id="t2", args={"amount": 9}, final_args={"amount": 9}), batch)
    assert same is not None and same.key == plan.key
    for other in (ticket(agent="other-bot"), ticket(action="send_email"),
                  ticket(tier=RiskTier.LOW), ticket(policy_rule="other"),
                  ticket(route=Route(name="payments", channel="C0X", approvers=("U0A",)))):
        found = plan_for(other, batch)
        assert found is not None and found.key != plan.key


def test_never_batched_whatever_the_config_says() -> None:
    batch = BatchConfig()
    assert plan_for(ticket(tier=RiskTier.CRITICAL), batch) is None
    assert plan_for(ticket(route=Route(name="payments", channel="C0P", approvers=("U0A",),
                                       approvals_required=2)), batch) is None
    assert plan_for(ticket(review_type=ReviewType.ESCALATION), batch) is None
    assert plan_for(ticket(canary="c1"), batch) is None
    assert plan_for(ticket(), None) is None
