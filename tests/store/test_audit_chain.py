"""Tampering with any audit row is detected, and the first bad event is named."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from store.audit import event_hash
from store.ledger import Ledger
from store.models import DecisionKind
from store.tables import AuditHeadRow, AuditRow
from tests.conftest import TicketFactory


@pytest.fixture
def chain(ledger: Ledger, make_ticket: TicketFactory) -> Ledger:
    """Five events: two tickets created, a decision, a note, an execution start."""
    first = make_ticket()
    make_ticket(action="send_email", args={"to": "a@example.com"})
    ledger.record_decision(first.id, reviewer="U0LEAD", kind=DecisionKind.APPROVE)
    ledger.record_event(first.id, "reminded", waited_s=600)
    ledger.start_execution(first.id, action=first.action, args=first.args, actor="agent")
    assert ledger.verify_audit().ok and ledger.verify_audit().checked == 5
    return ledger


def _rows(ledger: Ledger) -> list[dict[str, Any]]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(AuditRow.__table__).order_by(AuditRow.seq)).mappings()
        return [dict(r) for r in rows]


def _exec(ledger: Ledger, *stmts: Any) -> None:
    with ledger.engine.begin() as conn:
        for stmt in stmts:
            conn.execute(stmt)


def test_modified_row(chain: Ledger) -> None:
    _exec(chain, update(AuditRow).where(AuditRow.seq == 3)
          .values(actor="U0MALLORY"))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seq == 3 and "modified" in str(report)


def test_modified_data(chain: Ledger) -> None:
    _exec(chain, update(AuditRow).where(AuditRow.seq == 1).values(data='{"args":{}}'))
    assert chain.verify_audit().bad_seq == 1


def test_deleted_row(chain: Ledger) -> None:
    _exec(chain, delete(AuditRow).where(AuditRow.seq == 2))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seq == 2 and "deleted" in str(report)


def test_deleted_tail(chain: Ledger) -> None:
    _exec(chain, delete(AuditRow).where(AuditRow.seq == 5))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seq == 5


def test_inserted_row_shifts_the_chain(chain: Ledger) -> None:
    rows = _rows(chain)
    forged = dict(rows[1], seq=3, kind="decided", actor="U0MALLORY", data="{}",
                  prev_hash=rows[1]["hash"])
    forged["hash"] = event_hash(seq=3, ticket_id=forged["ticket_id"], kind="decided",
                                actor="U0MALLORY", at=forged["at"], data_json="{}",
                                prev_hash=rows[1]["hash"], key=None)
    shifted = [dict(r, seq=r["seq"] + 1) for r in rows[2:]]
    _exec(chain, delete(AuditRow).where(AuditRow.seq >= 3),
          *[AuditRow.__table__.insert().values(**r) for r in [forged, *shifted]],
          update(AuditHeadRow).values(seq=6))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seq == 4  # the forged link breaks the next one


def test_inserted_row_is_caught_at_once_with_a_key(db_url: str) -> None:
    keyed = Ledger.open(db_url, audit_key=b"k3y")
    keyed.record_event(None, "note", n=1)
    keyed.record_event(None, "note", n=2)
    row = _rows(keyed)[1]
    forged = dict(row, seq=3, data='{"n":3}', prev_hash=row["hash"])
    forged["hash"] = event_hash(seq=3, ticket_id=None, kind="note", actor=row["actor"],
                                at=row["at"], data_json='{"n":3}', prev_hash=row["hash"],
                                key=None)  # the forger has no key
    _exec(keyed, AuditRow.__table__.insert().values(**forged),
          update(AuditHeadRow).values(seq=3, hash=forged["hash"]))
    assert keyed.verify_audit().bad_seq == 3
    assert not Ledger.open(db_url, audit_key=b"wrong").verify_audit().ok


def test_reordered_rows(chain: Ledger) -> None:
    rows = _rows(chain)
    a, b = rows[1], rows[2]
    _exec(chain, delete(AuditRow).where(AuditRow.seq.in_([2, 3])),
          AuditRow.__table__.insert().values(**dict(b, seq=2)),
          AuditRow.__table__.insert().values(**dict(a, seq=3)))
    report = chain.verify_audit()
    assert not report.ok and report.bad_seq == 2


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
