"""Migration 0005 keeps a trail written with one global chain verifiable, and new events
link to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from store.audit_hash import GENESIS, legacy_hash
from store.db import make_engine, migrate
from store.ledger import Ledger
from store.models import canonical_json
from store.tables import AuditRow
from tests.store.test_migrations import _old_ticket, _raw
from tests.store.test_migrations import empty_url as empty_url  # the fixture

AT = datetime(2026, 11, 1, 12, tzinfo=UTC)
KEY = b"old-key"


@pytest.fixture
def upgraded(empty_url: str) -> Iterator[Ledger]:
    """Three events in the old layout (a ticket's two, a denial between), then migrated."""
    engine = make_engine(empty_url)
    migrate(engine, "0005-1")
    ticket = _old_ticket()
    prev, rows = GENESIS, []
    for seq, (tid, kind, data) in enumerate([
            ("t0old", "created", {"status": "pending", "args_hash": "h", "route": {},
                                  "requested_by": "U0REQUESTER"}),
            (None, "denied", {"action": "drop_database"}),
            ("t0old", "reminded", {"reminder": 1})], start=1):
        data_json = canonical_json(data)
        digest = legacy_hash(seq=seq, ticket_id=tid, kind=kind, actor="signoff", at=AT,
                             data_json=data_json, prev_hash=prev, key=KEY)
        rows.append({"seq": seq, "ticket_id": tid, "kind": kind, "actor": "signoff",
                     "at": AT.replace(tzinfo=None) if engine.dialect.name == "sqlite" else AT,
                     "data": data_json, "prev_hash": prev, "hash": digest})
        prev = digest
    with engine.begin() as conn:
        conn.execute(_raw("tickets", ticket))
        for row in rows:
            conn.execute(_raw("audit_events", row))
        conn.execute(_raw_head(prev))
    migrate(engine)
    ledger = Ledger(engine, audit_key=KEY)
    yield ledger
    ledger.close()


def _raw_head(hash_: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import column, table
    return update(table("audit_head", column("seq"), column("hash"))).values(seq=3, hash=hash_)


def test_old_events_become_the_first_seals_and_new_ones_link_to_them(
        upgraded: Ledger) -> None:
    report = upgraded.verify_audit()
    assert report.ok and (report.sealed, report.checked, report.tickets) == (3, 3, 1), report
    event = upgraded.record_event("t0old", "reminded", reminder=2)
    assert (event.ticket_seq, event.seq) == (3, 4)  # after the ticket's two old events
    upgraded.seal_audit()
    report = upgraded.verify_audit()
    assert report.ok and report.sealed == 4, report


def test_a_modified_old_event_is_still_detected(upgraded: Ledger) -> None:
    with upgraded.engine.begin() as conn:
        conn.execute(update(AuditRow).where(AuditRow.seq == 2).values(actor="U0MALLORY"))
    report = upgraded.verify_audit()
    assert not report.ok and report.bad_seq == 2
