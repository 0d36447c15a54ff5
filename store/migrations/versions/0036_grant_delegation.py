"""A standing grant made by a delegate names the delegation it relied on and whose authority
it carries; it matches only while that delegation is active.

Revision ID: 0036
Revises: 0035
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("on_behalf_of", sa.String(64), nullable=True))
        batch.add_column(sa.Column("delegation_id", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("delegation_id")
        batch.drop_column("on_behalf_of")
