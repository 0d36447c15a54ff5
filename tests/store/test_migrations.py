"""The Alembic migrations build exactly the schema the code maps, and upgrade old data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Insert, column, insert, inspect, select, table
from sqlalchemy.exc import IntegrityError

from store.db import current_revision, head_revision, make_engine, migrate
from store.tables import Base, EscalationStepRow, TicketRow
from tests.conftest import PG_SKIP, pg_base_url, pg_schema_url, sqlite_url

AT = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "empty.db")
        return
    base = pg_base_url()
    if base is None:
        pytest.skip(PG_SKIP)
    with pg_schema_url(base) as url:
        yield url


def test_the_migrated_schema_matches_the_mapped_tables(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_upgrading_keeps_old_steps_in_the_first_epoch(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        migrate(engine, "0002")
        with engine.begin() as conn:
            conn.execute(_raw("tickets", _old_ticket()))
            conn.execute(_raw("escalation_steps", _old_step()))
        migrate(engine)
        assert current_revision(engine) == head_revision()
        with engine.begin() as conn:
            epoch = conn.execute(select(EscalationStepRow.epoch)).scalar_one()
            ticket_epoch = conn.execute(select(TicketRow.escalation_epoch)).scalar_one()
        assert (epoch, ticket_epoch) == (0, 0)
        unique = inspect(engine).get_unique_constraints("escalation_steps")
        assert [u["column_names"] for u in unique] == [
            ["ticket_id", "epoch", "loop", "level", "step"]]
        with engine.begin() as conn:  # the same step in the next epoch is a new step
            conn.execute(insert(EscalationStepRow.__table__).values({**_old_step(), "epoch": 1}))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(EscalationStepRow.__table__).values({**_old_step(), "epoch": 1}))
    finally:
        engine.dispose()


def _raw(name: str, values: dict[str, object]) -> Insert:
    """An INSERT naming only these columns (the mapped tables would add newer ones)."""
    cells = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in values.items()}
    return insert(table(name, *(column(k) for k in cells))).values(cells)


def _old_ticket() -> dict[str, object]:
    return {"id": "t0old", "requested_by": "U0REQUESTER", "action": "issue_refund",
            "args": {"amount": 1}, "args_hash": "h", "final_args": {"amount": 1},
            "final_args_hash": "h", "review_type": "approval", "reason": "r",
            "evidence": [], "tier": "high", "route": {"name": "default"},
            "policy_version": "1", "status": "pending", "version": 1, "approvals": [],
            "created_at": AT, "expires_at": AT, "escalation_level": 0, "escalation_loop": 0}


def _old_step() -> dict[str, object]:
    return {"ticket_id": "t0old", "loop": 0, "level": 1, "step": "notify", "kind": "notify",
            "due_at": AT, "recorded_at": AT, "owner": "x", "status": "sent",
            "targets": ["U0ONE"], "pending": [], "attempts": 1}
