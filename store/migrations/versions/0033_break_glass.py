"""Break-glass: requests run before anyone approved them, and their witnesses.

Revision ID: 0033
Revises: 0032
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "break_glass",
        sa.Column("ticket_id", sa.String(32), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("responder", sa.String(64), nullable=False),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("rule", sa.String(300), nullable=False),
        sa.Column("broken_at", UTCDateTime, nullable=False),
        sa.Column("witness_due_at", UTCDateTime, nullable=False),
        sa.Column("witnessed_by", sa.String(64), nullable=True),
        sa.Column("witnessed_at", UTCDateTime, nullable=True),
        sa.Column("escalation_level", sa.Integer, nullable=False),
        sa.Column("next_escalation_at", UTCDateTime, nullable=True),
        sa.Column("security_channel", sa.String(64), nullable=True),
        sa.Column("security_ts", sa.String(64), nullable=True),
    )
    op.create_index("ix_break_glass_due", "break_glass", ["next_escalation_at"])


def downgrade() -> None:
    op.drop_index("ix_break_glass_due", table_name="break_glass")
    op.drop_table("break_glass")
