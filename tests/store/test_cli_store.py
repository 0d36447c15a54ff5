"""`signoff migrate`, `tickets`, `audit export` and settings errors, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from store.errors import SchemaOutOfDate
from store.ledger import Ledger
from store.models import DecisionKind
from tests.conftest import TicketFactory


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def test_migrate_then_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(SchemaOutOfDate, match="signoff migrate"):
        Ledger.open(url)
    first = _run(["migrate"], {"SIGNOFF_DATABASE_URL": url})
    assert first.returncode == 0 and "migrated from empty" in first.stdout
    again = _run(["migrate"], {"SIGNOFF_DATABASE_URL": url})
    assert again.returncode == 0 and "already at revision" in again.stdout
    Ledger.open(url).close()


def test_default_database_is_a_file_in_the_working_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SIGNOFF_DATABASE_URL"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "migrate"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "signoff.db").exists()


def test_bad_environment_names_the_variable(tmp_path: Path) -> None:
    result = _run(["tickets", "list"], {"SIGNOFF_DATABASE_URL": "mysql://x",
                                        "SLACK_API_URL": "slack.com/api"})
    assert result.returncode == 1
    assert "SIGNOFF_DATABASE_URL" in result.stderr and "SLACK_API_URL" in result.stderr
    assert "postgresql+psycopg" in result.stderr  # says what is expected


def test_tickets_list_and_show_json(db_url: str, ledger: Ledger, make_ticket: TicketFactory,
                                    capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    ticket = make_ticket()
    other = make_ticket(action="send_email", args={"to": "a@example.com"})
    ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.EDIT,
                           args={"amount": 90, "customer": "cus_42"}, reason="partial refund")

    assert main(["tickets", "list", "--status", "approved"]) == 0
    out = capsys.readouterr().out
    assert ticket.id in out and other.id not in out

    assert main(["tickets", "show", ticket.id, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["id"] == ticket.id and doc["status"] == "approved"
    assert doc["action"] == "issue_refund"
    assert doc["args"] == {"amount": 90, "customer": "cus_42"}
    assert doc["decisions"] == [{
        "reviewer": "U0LEAD", "kind": "edit", "reason": "partial refund",
        "args": {"amount": 90, "customer": "cus_42"}, "args_hash": doc["final_args_hash"],
        "at": doc["decided_at"], "policy_version": "2026-11-20", "on_behalf_of": None,
    }]
    assert [e["kind"] for e in doc["audit"]] == ["created", "edited"]

    assert main(["tickets", "show", ticket.id]) == 0
    text = capsys.readouterr().out
    assert "U0LEAD  edit  partial refund" in text and "edited to" in text


def test_show_unknown_ticket(db_url: str, ledger: Ledger, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    assert main(["tickets", "show", "tnope"]) == 1
    assert "no ticket with id 'tnope'" in capsys.readouterr().err


def test_audit_export_since(db_url: str, ledger: Ledger, make_ticket: TicketFactory,
                            monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    make_ticket()
    note = ledger.record_event(None, "note", text="before the cut")
    cut = note.at + timedelta(milliseconds=1)
    while ledger.db_now() <= cut:
        pass
    late = make_ticket()
    assert main(["audit", "export", "--format", "jsonl"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["seq"] for x in lines] == [1, 2, 3]
    assert all({"seq", "kind", "actor", "at", "data", "prev_hash", "hash"} <= x.keys()
               for x in lines)
    assert main(["audit", "export", "--since", cut.isoformat()]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(x["kind"], x["ticket_id"]) for x in lines] == [("created", late.id)]


def test_tickets_show_says_which_events_are_sealed(db_url: str, ledger: Ledger,
                                                   make_ticket: TicketFactory,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    ticket = make_ticket()
    ledger.record_event(ticket.id, "reminded", waited_s=60)
    ledger.seal_audit()
    ledger.record_event(ticket.id, "reminded", waited_s=120)
    assert main(["tickets", "show", ticket.id]) == 0
    out = capsys.readouterr().out
    assert "created  by U0REQUESTER  (seal 1)" in out and "(seal 2)" in out
    last = "(seal 3)" if ledger.dialect == "sqlite" else "(not sealed yet)"  # SQLite: at once
    assert out.rstrip().endswith(last)
