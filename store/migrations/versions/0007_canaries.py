"""Canary requests: test requests that must be rejected, injected among real ones.

``tickets.canary`` names the canary a ticket is (NULL for every real request) and
``canary_lesson`` keeps what its reviewer should have noticed, as configured when it was
injected. ``canary_drawn`` marks real requests the canary draw has already considered, so
each one is drawn for exactly once whichever replica sweeps; requests older than this
migration count as drawn.

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("canary", sa.String(100), nullable=True))
        batch.add_column(sa.Column("canary_lesson", sa.Text, nullable=True))
        batch.add_column(sa.Column("canary_drawn", sa.Boolean, nullable=True))
        batch.create_index("ix_tickets_canary_drawn", ["canary_drawn"])
    op.execute(sa.text("UPDATE tickets SET canary_drawn = :t").bindparams(t=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_canary_drawn")
        batch.drop_column("canary_drawn")
        batch.drop_column("canary_lesson")
        batch.drop_column("canary")
