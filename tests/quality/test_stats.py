"""``signoff stats`` against a seeded ledger whose answers are worked out by hand (seed.py),
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from escalation.quality import QualityConfig, quality_report
from store.ledger import Ledger
from store.stats import QualityStats
from tests.quality.seed import seed

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "signoff.example.yml"


@pytest.fixture
def seeded(ledger: Ledger) -> QualityStats:
    seed(ledger)
    return QualityStats(ledger.engine)


def test_overall_figures(seeded: QualityStats, ledger: Ledger) -> None:
    [all_] = seeded.queue_figures(ledger.db_now() - timedelta(days=30))
    # 28 real tickets in the window (canaries and the 40-day-old one left out) + 1 denial.
    assert (all_.requests, all_.denied, all_.auto_allowed, all_.reviewed) == (29, 1, 2, 26)
    assert (all_.approved, all_.edited, all_.rejected, all_.expired, all_.open) == (21, 1, 1, 1, 2)
    assert all_.auto_allow_share == round(2 / 29, 4)
    assert all_.approval_rate == round(21 / 24, 4)  # over the 24 closed reviewed requests
    assert all_.edit_rate == all_.rejection_rate == all_.expiry_rate == round(1 / 24, 4)
    assert all_.escalation_rate == round(1 / 26, 4)
    # waits: twenty of 5 s, then 40, 70, 130, 3600: nearest-rank p50 is the 12th, p95 the 23rd
    assert (all_.queue_p50_s, all_.queue_p95_s) == (5.0, 130.0)


def test_figures_by_action_route_and_agent(seeded: QualityStats, ledger: Ledger) -> None:
    since = ledger.db_now() - timedelta(days=30)
    by_action = {q.group: q for q in seeded.queue_figures(since, "action")}
    assert set(by_action) == {"issue_refund", "send_email", "search_docs", "drop_database"}
    refund = by_action["issue_refund"]
    assert (refund.requests, refund.approved, refund.open, refund.approval_rate) == (21, 20, 1, 1.0)
    email = by_action["send_email"]
    assert (email.requests, email.reviewed, email.queue_p50_s, email.queue_p95_s) == (
        5, 5, 70.0, 3600.0)  # waits 40, 70, 130, 3600
    assert by_action["drop_database"].denied == 1
    assert by_action["search_docs"].auto_allow_share == 1.0
    by_route = {q.group: q.requests for q in seeded.queue_figures(since, "route")}
    assert by_route == {"payments": 21, "default": 7, "-": 1}
    by_agent = {q.group: q.requests for q in seeded.queue_figures(since, "agent")}
    assert by_agent == {"billing-bot": 23, "mail-bot": 6}


def test_reviewers_canaries_and_flags(seeded: QualityStats, ledger: Ledger) -> None:
    now = ledger.db_now()
    report = quality_report(seeded, QualityConfig(), since=now - timedelta(days=30), until=now)
    fast, careful = report.reviewers
    assert (fast.reviewer, fast.decisions, fast.approval_rate, fast.median_click_s) == (
        "U0FAST", 20, 1.0, 3.0)
    assert (fast.canary_catches, fast.canary_misses) == (0, 1)
    assert (careful.reviewer, careful.decisions, careful.approvals, careful.edits,
            careful.rejections, careful.info_requests) == ("U0CAREFUL", 4, 1, 1, 1, 1)
    assert (careful.approval_rate, careful.median_click_s) == (0.25, 60.0)
    assert (careful.canary_catches, careful.canary_misses) == (1, 0)
    assert [(c.route, c.reviewer, c.catches, c.misses) for c in report.canaries] == [
        ("payments", "U0CAREFUL", 1, 0), ("payments", "U0FAST", 0, 1)]
    assert [(f.reviewer, f.kind) for f in report.flags] == [
        ("U0FAST", "fast_approvals"), ("U0FAST", "canary_missed")]
    stricter = QualityConfig(never_disagree_after=20, fast_median_seconds=2)
    flags = quality_report(seeded, stricter, since=now - timedelta(days=30), until=now).flags
    assert [(f.reviewer, f.kind) for f in flags] == [
        ("U0FAST", "never_disagrees"), ("U0FAST", "canary_missed")]


def test_a_shorter_window_and_the_old_decision(seeded: QualityStats, ledger: Ledger) -> None:
    now = ledger.db_now()
    [last_day] = seeded.queue_figures(now - timedelta(days=1))
    assert (last_day.requests, last_day.denied) == (1, 1)  # the denial was audited just now
    whole = {r.reviewer: r.decisions for r in seeded.reviewer_figures(now - timedelta(days=60))}
    assert whole == {"U0FAST": 20, "U0CAREFUL": 5}


def test_the_command_prints_the_same_figures(seeded: QualityStats, db_url: str,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    config = tmp_path / "signoff.yml"
    config.write_text(EXAMPLE.read_text() + "quality:\n  min_decisions: 21\n")
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    monkeypatch.setenv("SIGNOFF_CONFIG", str(config))
    assert main(["stats", "--json", "--by", "route"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {q["group"]: q["requests"] for q in doc["queue"]} == {"payments": 21, "default": 7,
                                                                 "-": 1}
    # 20 decisions are fewer than the configured 21: only the canary miss is flagged.
    assert [f["kind"] for f in doc["flags"]] == ["canary_missed"]
    assert main(["stats", "--since", "7d"]) == 0
    assert "rubber-stamp flags: none" in capsys.readouterr().out
    assert main(["stats"]) == 0
    text = capsys.readouterr().out
    assert "U0FAST approved 1 canary request(s)" in text
    with pytest.raises(SystemExit):
        main(["stats", "--since", "soon"])
    assert "'soon' is not a duration" in capsys.readouterr().err


def test_the_digest_is_posted_to_a_channel(seeded: QualityStats, db_url: str,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from bot.sandbox import SlackSandbox
    from tests.e2e.conftest import SECRET, workspace

    with SlackSandbox(workspace(), signing_secret=SECRET) as sandbox:
        for name, value in {"SIGNOFF_DATABASE_URL": db_url, "SIGNOFF_CONFIG": str(EXAMPLE),
                            "SLACK_BOT_TOKEN": sandbox.bot_token,
                            "SLACK_API_URL": sandbox.api_url}.items():
            monkeypatch.setenv(name, value)
        assert main(["stats", "--post", "C0PAYMENTS"]) == 0
        [digest] = sandbox.messages("C0PAYMENTS")
        text = json.dumps(digest.blocks, ensure_ascii=False)
        assert "Review quality · last 30 days" in text
        assert "*payments*" in text and "*default*" in text
        assert "⚠️ <@U0FAST> approved 100.0% of 20 decisions" in text
        assert main(["stats", "--post", "C0NOWHERE"]) == 1
    assert "could not post the digest to C0NOWHERE" in capsys.readouterr().err
