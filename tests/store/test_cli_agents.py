"""`signoff agents`, `keys` and `webhooks` through the real CLI, on a real database."""

from __future__ import annotations

import json
import re

import pytest

from bot.cli import main
from store.agents import AgentStore, token_hash
from store.ledger import Ledger


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db_url: str,
         *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_token_is_shown_once_stored_as_a_hash_and_revoked(
        ledger: Ledger, db_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run(capsys, monkeypatch, db_url, "agents", "add", "refund-bot",
                        "--actions", "issue_*", "search_*", "--max-pending", "3",
                        "--webhook", "https://agent.example/hooks")
    assert code == 0
    token = re.search(r"SIGNOFF_AGENT_TOKEN=(\S+)", out)
    assert token and "whsec_" in out
    store = AgentStore(ledger)
    agent = store.authenticate(token.group(1))
    assert agent is not None and agent.actions == ("issue_*", "search_*")
    assert agent.max_pending == 3
    with ledger.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM agents").scalar_one()
    assert stored == token_hash(token.group(1)) and token.group(1) not in stored
    code, out, _ = _run(capsys, monkeypatch, db_url, "agents", "list", "--json")
    listed = json.loads(out)
    assert listed["name"] == "refund-bot" and "token" not in json.dumps(listed)
    code, _, err = _run(capsys, monkeypatch, db_url, "agents", "add", "refund-bot")
    assert code == 1 and "already exists" in err
    assert _run(capsys, monkeypatch, db_url, "agents", "revoke", "refund-bot")[0] == 0
    assert store.authenticate(token.group(1)) is None
    assert [e.kind for e in ledger.audit_events()] == ["agent_added", "agent_revoked"]
    assert ledger.verify_audit().ok


def test_keys_rotate_and_webhooks_list(ledger: Ledger, db_url: str,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(2):
        assert _run(capsys, monkeypatch, db_url, "keys", "rotate")[0] == 0
    code, out, _ = _run(capsys, monkeypatch, db_url, "keys", "list")
    lines = out.splitlines()
    assert len(lines) == 2 and "signing" in lines[0] and "verifies" in lines[1]
    code, out, _ = _run(capsys, monkeypatch, db_url, "webhooks", "list")
    assert code == 0 and out == ""
    code, _, err = _run(capsys, monkeypatch, db_url, "webhooks", "redeliver", "evt_nope")
    assert code == 1 and "no webhook delivery" in err
