"""Batch review: batches of similar pending requests, their members, and the lists their
cards showed (what an "Approve all N" click is bound to).

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("open_key", sa.String(64), nullable=True, unique=True),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("opened_at", UTCDateTime, nullable=False),
        sa.Column("closes_at", UTCDateTime, nullable=False),
        sa.Column("max_members", sa.Integer, nullable=False),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("card_channel", sa.String(64), nullable=True),
        sa.Column("card_ts", sa.String(64), nullable=True),
    )
    op.create_table(
        "batch_members",
        sa.Column("ticket_id", sa.String(32), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("batch_id", sa.String(32), sa.ForeignKey("batches.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_batch_members_batch_id", "batch_members", ["batch_id"])
    op.create_table(
        "batch_views",
        sa.Column("batch_id", sa.String(32), sa.ForeignKey("batches.id"), primary_key=True),
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("batch_views")
    op.drop_index("ix_batch_members_batch_id", table_name="batch_members")
    op.drop_table("batch_members")
    op.drop_table("batches")
