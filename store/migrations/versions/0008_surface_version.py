"""Surface versions: which ticket version the card and DM copies show.

``tickets.shown_version`` is the version every live surface was last rendered at; a ticket
whose ``shown_version`` is behind its ``version`` has a stale card (a failed ``chat.update``,
or a crash between a decision and its update), which the sweep re-renders. A partial index
holds only those tickets. ``ticket_messages.epoch`` records which escalation epoch sent a DM,
so DMs of a chain an edit replaced stay pointers and are never re-rendered as live cards.

Existing tickets are taken to show their current version (nothing to repair on upgrade).

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None

_BEHIND = "shown_version < version"


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("shown_version", sa.Integer, nullable=True))
    op.execute("UPDATE tickets SET shown_version = version WHERE card_ts IS NOT NULL")
    op.create_index("ix_tickets_shown_behind", "tickets", ["id"],
                    sqlite_where=sa.text(_BEHIND), postgresql_where=sa.text(_BEHIND))
    with op.batch_alter_table("ticket_messages") as batch:
        batch.add_column(sa.Column("epoch", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_messages") as batch:
        batch.drop_column("epoch")
    op.drop_index("ix_tickets_shown_behind", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("shown_version")
