"""``signoff eval export`` of a seeded ledger: one case per correction, valid against the
committed, versioned schema, secrets masked, --redact dropping free text; and the documented
example turning the cases into pytest parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field, SecretStr

from bot.cli import main
from bot.commands.evalcases import eval_case_schema
from bot.render.argmodel import schema_of
from store.ledger import Ledger
from store.models import DecisionKind
from tests.conftest import TicketFactory
from tests.quality.seed import seed

ROOT = Path(__file__).parents[2]
SCHEMA_FILE = ROOT / "docs" / "eval-case.v1.schema.json"
EXAMPLE = ROOT / "examples" / "eval_regression"
SECRET = "sk_live_abcdef123456"


class ApiCall(BaseModel):
    endpoint: str
    api_key: SecretStr
    note: str = Field(default="")


def _export(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], db_url: str,
            *extra: str) -> list[dict[str, object]]:
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    assert main(["eval", "export", *extra]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def cases(ledger: Ledger, make_ticket: TicketFactory, db_url: str,
          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
          ) -> list[dict[str, object]]:
    seed(ledger)
    # An edited call with a secret, approved and executed.
    secret = make_ticket(action="call_api", args={"endpoint": "/v1/refund", "api_key": SECRET,
                                                   "note": f"uses {SECRET}"},
                         args_schema=schema_of(ApiCall), reason=f"key {SECRET} is valid")
    ledger.record_decision(secret.id, reviewer="U0LEAD", kind=DecisionKind.EDIT,
                           args={"endpoint": "/v1/refunds", "api_key": SECRET + "x",
                                 "note": f"uses {SECRET}"})
    done = ledger.start_execution(secret.id, action="call_api",
                                  args=ledger.get_ticket(secret.id).final_args, actor="agent")
    ledger.finish_execution(done.id, ok=True, actor="agent", summary="refund re01 created")
    taken = make_ticket(action="close_account", args={"account": "acc_7"})
    ledger.record_decision(taken.id, reviewer="U0LEAD", kind=DecisionKind.TAKE_OVER,
                           reason="I will call the customer")
    return _export(monkeypatch, capsys, db_url)


def test_one_case_per_correction(cases: list[dict[str, object]]) -> None:
    kinds = sorted(str(c["kind"]) for c in cases)
    # seed: edit, reject, question (canary rejection and plain approvals are not cases)
    assert kinds == ["edited", "edited", "info_requested", "rejected", "taken_over"]


def test_cases_match_the_committed_versioned_schema(cases: list[dict[str, object]]) -> None:
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == eval_case_schema(), "run: signoff eval schema > " + str(SCHEMA_FILE)
    validator = Draft202012Validator(committed)
    for case in cases:
        assert case["schema_version"] == "signoff.eval/1"
        errors = [e.message for e in validator.iter_errors(case)]
        assert errors == [], errors
    broken = dict(cases[0], kind="approved")
    assert list(validator.iter_errors(broken))


def test_edits_are_a_structured_diff_and_secrets_stay_masked(
        cases: list[dict[str, object]]) -> None:
    [api] = [c for c in cases if c["request"]["action"] == "call_api"]  # type: ignore[index]
    assert SECRET not in json.dumps(cases)
    assert api["review"]["diff"] == [  # type: ignore[index]
        {"path": "/api_key", "op": "replace", "before": "••••••", "after": "••••••"},
        {"path": "/endpoint", "op": "replace", "before": "/v1/refund", "after": "/v1/refunds"}]
    assert api["outcome"] == {"status": "executed", "executed": True, "ok": True,
                              "summary": "refund re01 created", "error": None}
    assert api["request"]["reason"] == "key •••••• is valid"  # type: ignore[index]
    [rejected] = [c for c in cases if c["kind"] == "rejected"]
    assert rejected["review"]["decisions"][0]["reason"] == "wrong recipient"  # type: ignore[index]


def test_redact_drops_free_text_and_filters(ledger: Ledger, db_url: str,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    seed(ledger)
    redacted = _export(monkeypatch, capsys, db_url, "--redact", "--action", "send_email")
    assert {c["kind"] for c in redacted} == {"edited", "rejected", "info_requested"}
    text = json.dumps(redacted)
    for prose in ("wrong recipient", "which order", "double charged"):
        assert prose not in text
    assert _export(monkeypatch, capsys, db_url, "--since", "1d") == []
    assert len(_export(monkeypatch, capsys, db_url, "--since", "30d")) == 3


@pytest.mark.slow
def test_the_documented_example_turns_cases_into_pytest_parameters(
        cases: list[dict[str, object]], tmp_path: Path) -> None:
    file = tmp_path / "cases.jsonl"
    file.write_text("".join(json.dumps(c) + "\n" for c in cases))
    env = {**os.environ, "SIGNOFF_EVAL_CASES": str(file), "PYTHONPATH": str(EXAMPLE)}

    def run(**extra: str) -> str:
        out = subprocess.run([sys.executable, "-m", "pytest", str(EXAMPLE), "-q", "-p",
                              "no:cacheprovider"], env={**env, **extra}, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        return out.stdout

    assert "5 failed" in run()  # the agent before the corrections: every case fails
    assert "5 passed" in run(SIGNOFF_EVAL_AGENT="fixed_agent:propose")


def test_window_is_by_creation(ledger: Ledger) -> None:
    from store.stats import QualityStats

    seed(ledger)
    stats = QualityStats(ledger.engine)
    assert len(stats.corrections(ledger.db_now() - timedelta(days=30))) == 3
    assert stats.corrections(ledger.db_now() - timedelta(days=30), action="issue_refund") == []
