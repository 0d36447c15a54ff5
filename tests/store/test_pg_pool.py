"""PostgreSQL connections: a pooled connection that died while idle is replaced before
anyone uses it (a server restart, an idle timeout), without a ping on every checkout."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store import db
from store.db import make_engine, normalise_url
from tests.conftest import PG_SKIP, pg_base_url, pg_schema_url


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = pg_base_url()
    if base is None:
        pytest.skip(PG_SKIP)
    with pg_schema_url(base) as url:
        yield url


def _kill(url: str, name: str) -> int:
    admin = create_engine(normalise_url(url))
    try:
        with admin.begin() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :n"), {"n": name}).all())
    finally:
        admin.dispose()


def _named(url: str) -> tuple[str, str]:
    name = f"signoff-pool-{uuid.uuid4().hex[:8]}"
    return make_url(url).update_query_dict({"application_name": name}).render_as_string(
        hide_password=False), name


@pytest.mark.postgres
def test_a_connection_killed_while_idle_is_replaced_unseen(pg_url: str) -> None:
    url, name = _named(pg_url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert _kill(pg_url, name) == 1
        time.sleep(db.PG_PING_AFTER_IDLE_S + 0.1)
        with engine.connect() as conn:  # no error: the dead connection was swapped first
            second = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_busy_connection_is_not_pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reused within the idle time, the connection goes straight to its caller: killed
    just before, the caller's own statement is what fails (and the pool is renewed)."""
    monkeypatch.setattr(db, "PG_PING_AFTER_IDLE_S", 30.0)
    url, name = _named(pg_url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert _kill(pg_url, name) == 1
        with pytest.raises(Exception, match=r"terminat|closed|connection"), \
                engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        with engine.connect() as conn:  # the next one gets a fresh connection
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
