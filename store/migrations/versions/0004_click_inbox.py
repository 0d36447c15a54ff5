"""The click inbox, and execution leases.

``click_inbox`` holds each reviewer's decision click from before Slack gets its ack until
it ends in a decision or in a message to the clicker, so a crash or an outage after the ack
can no longer lose it. ``tickets.execution_lease_until`` is set when execution starts: a
ticket still ``executing`` after it becomes ``outcome_unknown`` for a human to resolve.

Revision ID: 0004
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0004"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "click_inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("args", sa.JSON),
        sa.Column("shown_version", sa.Integer),
        sa.Column("channel", sa.String(64)),
        sa.Column("message_ts", sa.String(64)),
        sa.Column("response_url", sa.Text),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(100)),
        sa.Column("claimed_until", UTCDateTime),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("decision_id", sa.Integer),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_click_inbox_status_claim", "click_inbox", ["status", "claimed_until"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("execution_lease_until", UTCDateTime))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("execution_lease_until")
    op.drop_index("ix_click_inbox_status_claim", table_name="click_inbox")
    op.drop_table("click_inbox")
