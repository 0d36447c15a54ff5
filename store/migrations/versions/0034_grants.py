"""Standing grants: time-boxed approvals of similar requests, and the click that makes one.

Revision ID: 0034
Revises: 0033
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("agent", sa.String(200), nullable=True),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("route", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("thread_ts", sa.String(64), nullable=True),
        sa.Column("bounds", sa.JSON, nullable=False),
        sa.Column("max_uses", sa.Integer, nullable=False),
        sa.Column("uses", sa.Integer, nullable=False),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("granted_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("policy_version", sa.String(100), nullable=False),
    )
    op.create_index("ix_grants_match", "grants", ["action", "requested_by"])
    with op.batch_alter_table("click_inbox") as batch:
        batch.add_column(sa.Column("grant_spec", sa.JSON, nullable=True))
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("grant_id", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("grant_id")
    with op.batch_alter_table("click_inbox") as batch:
        batch.drop_column("grant_spec")
    op.drop_index("ix_grants_match", table_name="grants")
    op.drop_table("grants")
