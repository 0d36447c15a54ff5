"""Alembic environment: signoff passes its own engine in ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from store.tables import Base

config = context.config
engine = config.attributes.get("engine")


def run() -> None:
    assert isinstance(engine, Engine), "run migrations through store.db.migrate()"
    with engine.connect() as conn:
        conn = conn.execution_options(signoff_write=True)
        context.configure(
            connection=conn,
            target_metadata=Base.metadata,
            render_as_batch=engine.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run()
