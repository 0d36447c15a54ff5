"""Escalation epochs: an edit that re-routes a ticket plans its new route's chain afresh.

Tickets count their re-routes (``escalation_epoch``); each escalation step records the epoch
it belongs to, and the steps' unique key includes it, so the new chain's steps never collide
with the old one's and on-call authority is read from the current chain only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("escalation_epoch", sa.Integer, nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("escalation_steps") as batch:
        batch.add_column(sa.Column("epoch", sa.Integer, nullable=False, server_default="0"))
        batch.drop_constraint("uq_escalation_steps_key", type_="unique")
        batch.create_unique_constraint("uq_escalation_steps_key",
                                       ["ticket_id", "epoch", "loop", "level", "step"])


def downgrade() -> None:
    with op.batch_alter_table("escalation_steps") as batch:
        batch.drop_constraint("uq_escalation_steps_key", type_="unique")
        batch.create_unique_constraint("uq_escalation_steps_key",
                                       ["ticket_id", "loop", "level", "step"])
        batch.drop_column("epoch")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("escalation_epoch")
