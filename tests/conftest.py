"""Shared fixtures (real SQLite files and real PostgreSQL schemas, one per test) and the test
tiers, marked by folder so a loop can pick one: ``pytest -m unit`` (pure functions, no I/O
beyond files), ``-m integration`` (a real database or the local Slack server), ``-m e2e``
(the composed bot behind its HTTP server, or the demo), ``-m browser`` (Chromium). A test
in a unit folder that opens a database counts as integration."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from store.db import migrate_url, scratch_schema
from store.ledger import Ledger
from store.models import NewTicket, Route, Ticket

TESTS = Path(__file__).parent
TIERS = ("unit", "integration", "e2e", "browser")
FOLDER_TIER = {"render": "unit", "escalation": "unit", "store": "integration",
               "sandbox": "integration", "slack": "integration", "agent": "integration",
               "quality": "integration", "e2e": "e2e", "demo": "e2e", "mcp": "e2e",
               "integrations": "e2e"}
FILE_TIER = {"demo/test_demo_page.py": "browser", "test_benchmarks_smoke.py": "e2e"}
DATABASE_FIXTURES = {"db_url", "ledger"}


def tier(item: pytest.Item) -> str:
    rel = Path(str(item.path)).relative_to(TESTS)
    named = FILE_TIER.get(rel.as_posix()) or FOLDER_TIER.get(rel.parts[0], "unit")
    if named == "unit" and DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "integration"
    return named


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(getattr(pytest.mark, tier(item)))


PG_ENV = "SIGNOFF_TEST_POSTGRES_URL"
PG_SKIP = (
    f"PostgreSQL tests need {PG_ENV}; run them with e.g. "
    f"{PG_ENV}=postgresql+psycopg://postgres@127.0.0.1:5432/test pytest"
)


def pg_base_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def pg_schema_url(base: str) -> AbstractContextManager[str]:
    """A fresh schema for one test; every connection of the URL lands in it."""
    return scratch_schema(base, prefix="t")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "signoff.db")
        migrate_url(url)
        yield url
        return
    base = pg_base_url()
    if base is None:
        pytest.skip(PG_SKIP)
    with pg_schema_url(base) as url:
        migrate_url(url)
        yield url


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    led = Ledger.open(db_url)
    yield led
    led.close()


TicketFactory = Callable[..., Ticket]


@pytest.fixture
def make_ticket(ledger: Ledger) -> TicketFactory:
    """Open a ticket with sensible defaults; keyword arguments override NewTicket fields."""

    def factory(**overrides: Any) -> Ticket:
        expires_in = overrides.pop("expires_in", timedelta(hours=1))
        approvals = overrides.pop("approvals_required", 1)
        fields: dict[str, Any] = {
            "action": "issue_refund",
            "args": {"amount": 120, "customer": "cus_42"},
            "requested_by": "U0REQUESTER",
            "reason": "customer was double charged",
            "route": Route(name="payments", channel="C0PAYMENTS",
                           approvers=("U0LEAD", "U0FINOPS"), approvals_required=approvals),
            "policy_version": "2026-11-20",
            "policy_rule": "rules[2] issue_refund",
            "expires_at": ledger.db_now() + expires_in,
        }
        fields.update(overrides)
        ticket, _created = ledger.create_ticket(NewTicket(**fields))
        return ticket

    return factory
