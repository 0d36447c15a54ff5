"""`signoff audit checkpoint` anchors the chain outside the database; `audit verify
--checkpoint` then catches a rewound, wiped or rewritten trail that verify alone cannot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from bot.cli import main
from bot.sandbox import Channel, SlackSandbox, User, Workspace
from store.audit_hash import event_hash, seal_hash
from store.ledger import Ledger
from store.models import DecisionKind, NewTicket, Route
from store.tables import AuditHeadRow, AuditRow

KEY = "an-audit-key"


@pytest.fixture
def keyed(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    monkeypatch.setenv("SIGNOFF_AUDIT_KEY", KEY)
    led = Ledger.open(db_url, audit_key=KEY.encode())
    yield led
    led.close()


def _activity(ledger: Ledger, n: int = 2) -> None:
    """``n`` tickets, each created, approved and reminded: three events each."""
    for _ in range(n):
        ticket, _ = ledger.create_ticket(NewTicket(
            action="issue_refund", args={"amount": 5}, requested_by="U0REQ",
            route=Route(channel="C1", approvers=("U0LEAD",)), policy_version="v1",
            expires_at=ledger.db_now() + timedelta(hours=1)))
        ledger.record_decision(ticket.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
        ledger.record_event(ticket.id, "reminded", waited_s=60)


def _verify(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def _head(ledger: Ledger) -> tuple[int, str]:
    with ledger.engine.connect() as conn:
        row = conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)).one()
        return row.seq, row.hash


def _rewind(ledger: Ledger, to_seal: int) -> None:
    """What an attacker with write access does: cut the chain back and move the head."""
    with ledger.engine.begin() as conn:
        top = conn.execute(select(AuditRow.seal_hash).where(AuditRow.seal == to_seal)
                           ).scalar_one()
        conn.execute(delete(AuditRow).where(AuditRow.seal > to_seal))
        conn.execute(update(AuditHeadRow).values(seq=to_seal, hash=top))


def test_checkpoint_then_verify(keyed: Ledger, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    _activity(keyed)
    book = tmp_path / "checkpoints.jsonl"
    assert main(["audit", "checkpoint", "--to", str(book)]) == 0
    assert "signed with key id" in capsys.readouterr().out
    _activity(keyed)
    assert main(["audit", "checkpoint", "--to", str(book)]) == 0  # appends
    lines = [json.loads(line) for line in book.read_text().splitlines()]
    assert [cp["seal"] for cp in lines] == [6, 12] and all(cp["sig"] for cp in lines)
    assert (lines[1]["seal"], lines[1]["hash"]) == _head(keyed)  # checkpoint seals first
    code, out = _verify(capsys, "--checkpoint", str(book))
    assert code == 0 and "2 checkpoints matched" in out


def test_rewound_tail_after_a_checkpoint_is_detected(
        keyed: Ledger, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _activity(keyed)
    book = tmp_path / "checkpoints.jsonl"
    assert main(["audit", "checkpoint", "--to", str(book)]) == 0
    _rewind(keyed, 5)  # drop the last sealed event (a reminder) and move the head back
    code, out = _verify(capsys)
    assert code == 0, out  # the database alone is consistent again: verify cannot tell
    code, out = _verify(capsys, "--checkpoint", str(book))
    assert code == 1 and "rewound or wiped" in out and "seal 6" in out


def test_wiped_trail_is_detected(keyed: Ledger, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    _activity(keyed, n=1)
    book = tmp_path / "checkpoints.jsonl"
    assert main(["audit", "checkpoint", "--to", str(book)]) == 0
    with keyed.engine.begin() as conn:
        conn.execute(delete(AuditRow))
        conn.execute(update(AuditHeadRow).values(seq=0, hash="0" * 64))
    code, out = _verify(capsys, "--checkpoint", str(book))
    assert code == 1 and "rewound or wiped" in out


def test_rewritten_trail_without_key_is_detected(
        db_url: str, ledger: Ledger, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """No key: whoever can write the database can rewrite the whole chain consistently;
    only the checkpoint, kept elsewhere, still tells."""
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    _activity(ledger, n=1)
    book = tmp_path / "checkpoints.jsonl"
    assert main(["audit", "checkpoint", "--to", str(book)]) == 0
    assert "UNSIGNED" in capsys.readouterr().out
    with ledger.engine.begin() as conn:  # rewrite the last event, and every hash after it
        row = conn.execute(select(AuditRow).where(AuditRow.seal == 3)).one()
        prev = conn.execute(select(AuditRow.seal_hash).where(AuditRow.seal == 2)).scalar_one()
        data = '{"waited_s":1}'
        forged = event_hash(ticket_id=row.ticket_id, ticket_seq=row.ticket_seq, kind=row.kind,
                            actor=row.actor, at=row.at, data_json=data,
                            prev_hash=row.prev_hash, key=None)
        sealed = seal_hash(seal=3, seq=row.seq, event_hash=forged, prev=prev, key=None,
                           sealed_at=row.sealed_at)
        conn.execute(update(AuditRow).where(AuditRow.seal == 3)
                     .values(data=data, hash=forged, seal_hash=sealed))
        conn.execute(update(AuditHeadRow).values(hash=sealed))
    code, out = _verify(capsys)
    assert code == 0, out
    code, out = _verify(capsys, "--checkpoint", str(book))
    assert code == 1 and "another hash" in out


def test_edited_checkpoint_line_is_detected(keyed: Ledger, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _activity(keyed, n=1)
    book = tmp_path / "checkpoints.jsonl"
    assert main(["audit", "checkpoint", "--to", str(book)]) == 0
    cp = json.loads(book.read_text())
    _rewind(keyed, 2)
    book.write_text(json.dumps({**cp, "seal": 2, "hash": _head(keyed)[1]}) + "\n")
    code, out = _verify(capsys, "--checkpoint", str(book))
    assert code == 1 and "signature does not match" in out


def test_without_the_key_verify_says_the_key_is_missing(
        keyed: Ledger, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _activity(keyed, n=1)
    book = tmp_path / "checkpoints.jsonl"
    assert main(["audit", "checkpoint", "--to", str(book)]) == 0
    monkeypatch.delenv("SIGNOFF_AUDIT_KEY")
    code, out = _verify(capsys, "--checkpoint", str(book))
    assert code == 3
    assert "SIGNOFF_AUDIT_KEY" in out and "not set" in out
    assert "BROKEN" not in out and "modified" not in out


def test_unreadable_checkpoint_file_is_a_clear_error(
        keyed: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "checkpoints.jsonl"
    book.write_text('{"seal": 1}\n')
    code, out = _verify(capsys, "--checkpoint", str(book))
    assert code == 1 and f"{book}, line 1: not a signoff audit checkpoint" in out
    code, out = _verify(capsys, "--checkpoint", str(tmp_path / "absent.jsonl"))
    assert code == 1 and "cannot read" in out


def test_checkpoint_goes_to_a_slack_audit_channel(
        keyed: Ledger, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ws = Workspace(users=[User("U0LEAD", "lead", "Lead", "lead@example.com")],
                   channels=[Channel("C0AUDIT", "audit")])
    _activity(keyed, n=1)
    with SlackSandbox(ws) as sandbox:
        monkeypatch.setenv("SLACK_BOT_TOKEN", sandbox.bot_token)
        monkeypatch.setenv("SLACK_API_URL", sandbox.api_url)
        book = tmp_path / "checkpoints.jsonl"
        assert main(["audit", "checkpoint", "--to", str(book),
                     "--slack-channel", "C0AUDIT"]) == 0
        (message,) = sandbox.messages("C0AUDIT")
    line = book.read_text().strip()
    assert line in message.text  # the same signed line: it can be copied back into a file
    assert "posted to Slack channel C0AUDIT" in capsys.readouterr().out
