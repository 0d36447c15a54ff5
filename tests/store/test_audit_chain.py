"""Tampering with any audit row is detected, and the first bad event is named."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from store.audit import event_hash
from store.ledger import Ledger
from store.models import DecisionKind
from store.tables import AuditRow
from tests.conftest import TicketFactory


@pytest.fixture
def chain(ledger: Ledger, make_ticket: TicketFactory) -> Ledger:
    """Five events, sealed: two tickets created, a decision, a note, an execution start."""
    first = make_ticket()
    make_ticket(action="send_email", args={"to": "a@example.com"})
    ledger.record_decision(first.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    ledger.record_event(first.id, "reminded", waited_s=600)
    ledger.start_execution(first.id, action=first.action, args=first.args, actor="agent")
    ledger.seal_audit()  # PostgreSQL; SQLite's writers sealed their own events
    assert [(r["seq"], r["seal"]) for r in _rows(ledger)] == [(n, n) for n in range(1, 6)]
    report = ledger.verify_audit()
    assert report.ok and report.checked == 5 and report.sealed == 5, report
    return ledger


def _rows(ledger: Ledger) -> list[dict[str, Any]]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(AuditRow.__table__).order_by(AuditRow.seq)).mappings()
        return [dict(r) for r in rows]


def _exec(ledger: Ledger, *stmts: Any) -> None:
    with ledger.engine.begin() as conn:
        for stmt in stmts:
            conn.execute(stmt)


def _forge(row: dict[str, Any], key: bytes | None = None, **changes: Any) -> dict[str, Any]:
    """``row`` changed, with its hash recomputed as a forger without the key would."""
    out = dict(row, **changes)
    out["hash"] = event_hash(ticket_id=out["ticket_id"], ticket_seq=out["ticket_seq"],
                             kind=out["kind"], actor=out["actor"], at=out["at"],
                             data_json=out["data"], prev_hash=out["prev_hash"], key=key)
    return out


def test_modified_row(chain: Ledger) -> None:
    _exec(chain, update(AuditRow).where(AuditRow.seq == 3)
          .values(actor="U0MALLORY"))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seq == 3 and "modified" in str(report)


def test_modified_data(chain: Ledger) -> None:
    _exec(chain, update(AuditRow).where(AuditRow.seq == 1).values(data='{"args":{}}'))
    assert chain.verify_audit().bad_seq == 1


def test_modified_row_with_its_hash_recomputed_breaks_both_chains(chain: Ledger) -> None:
    row = _rows(chain)[2]  # the decision
    _exec(chain, update(AuditRow).where(AuditRow.seq == 3).values(
        actor="U0MALLORY", hash=_forge(row, actor="U0MALLORY")["hash"]))
    report = chain.verify_audit()
    assert not report.ok and (report.bad_seq, report.bad_seal) == (3, 3)
    assert any(p.seq == 4 and "link" in p.text for p in report.problems)  # the ticket's next


def test_deleted_row(chain: Ledger) -> None:
    _exec(chain, delete(AuditRow).where(AuditRow.seq == 2))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seal == 2 and "deleted" in str(report)


def test_deleted_row_inside_a_ticket_chain(chain: Ledger) -> None:
    _exec(chain, delete(AuditRow).where(AuditRow.seq == 3))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seal == 3 and "deleted" in str(report)
    assert any(p.seq == 4 and "missing" in p.text for p in report.problems)


def test_deleted_tail(chain: Ledger) -> None:
    _exec(chain, delete(AuditRow).where(AuditRow.seq == 5))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seal == 5 and "deleted from the end" in str(report)


def test_inserted_row_shifts_the_chain(chain: Ledger) -> None:
    rows = _rows(chain)
    created, decided = rows[0], rows[2]  # ticket 1's events 1 and 2
    forged = _forge(dict(decided, seq=6, seal=None, seal_hash=None, sealed_at=None),
                    ticket_seq=2, actor="U0MALLORY", prev_hash=created["hash"])
    shifted = [dict(r, ticket_seq=r["ticket_seq"] + 1) for r in rows
               if r["ticket_id"] == created["ticket_id"] and r["ticket_seq"] >= 2]
    _exec(chain, delete(AuditRow).where(AuditRow.seq.in_([r["seq"] for r in shifted])),
          *[insert(AuditRow.__table__).values(**r) for r in [forged, *shifted]])
    report = chain.verify_audit()
    assert not report.ok and report.bad_seq == 3  # the forged link breaks the next one


def test_inserted_row_is_caught_at_once_with_a_key(db_url: str) -> None:
    keyed = Ledger.open(db_url, audit_key=b"k3y")
    keyed.record_event(None, "note", n=1)
    keyed.record_event(None, "note", n=2)
    row = _rows(keyed)[1]
    forged = _forge(dict(row, seq=3, data='{"n":3}', seal=None, seal_hash=None,
                         sealed_at=None))  # the forger has no key
    _exec(keyed, insert(AuditRow.__table__).values(**forged))
    assert keyed.verify_audit().bad_seq == 3
    assert not Ledger.open(db_url, audit_key=b"wrong").verify_audit().ok


def test_reordered_seals(chain: Ledger) -> None:
    _exec(chain, update(AuditRow).where(AuditRow.seq == 2).values(seal=-2),
          update(AuditRow).where(AuditRow.seq == 3).values(seal=2),
          update(AuditRow).where(AuditRow.seq == 2).values(seal=3))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seal == 2


def test_reordered_events_of_a_ticket(chain: Ledger) -> None:
    """Ticket 1's events 2 and 3 (the decision and the reminder) swap places."""
    _exec(chain, update(AuditRow).where(AuditRow.seq == 3).values(ticket_seq=-1),
          update(AuditRow).where(AuditRow.seq == 4).values(ticket_seq=2),
          update(AuditRow).where(AuditRow.seq == 3).values(ticket_seq=3))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seq == 4


def test_cli_verify_exit_codes(chain: Ledger, db_url: str) -> None:
    env = {**os.environ, "SIGNOFF_DATABASE_URL": db_url}
    cmd = [sys.executable, "-m", "bot.cli", "audit", "verify"]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "5 events verified" in ok.stdout
    _exec(chain, update(AuditRow).where(AuditRow.seq == 4).values(kind="executed"))
    bad = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "seq 4" in bad.stderr
