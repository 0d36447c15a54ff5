"""Delegations: a reviewer's authority lent to a named person for a period.

``delegations`` holds each delegation (principal, delegate, the period, who made and who
revoked it). A decision made by a delegate names both people: ``decisions.on_behalf_of``
and, for the approvals that count now, ``tickets.acting_for`` (approver → principal).

Revision ID: 0030
Revises: 0020
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0030"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("delegate", sa.String(64), nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_delegations_delegate_ends", "delegations", ["delegate", "ends_at"])
    op.create_index("ix_delegations_principal_ends", "delegations", ["principal", "ends_at"])
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("on_behalf_of", sa.String(64), nullable=True))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("acting_for", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("acting_for")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("on_behalf_of")
    op.drop_index("ix_delegations_principal_ends", table_name="delegations")
    op.drop_index("ix_delegations_delegate_ends", table_name="delegations")
    op.drop_table("delegations")
