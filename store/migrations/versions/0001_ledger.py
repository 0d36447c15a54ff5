"""The ledger: tickets, decisions, messages, the audit chain.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("args_hash", sa.String(64), nullable=False),
        sa.Column("final_args", sa.JSON, nullable=False),
        sa.Column("final_args_hash", sa.String(64), nullable=False),
        sa.Column("review_type", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("confidence", sa.Float),
        sa.Column("agent", sa.String(200)),
        sa.Column("run_id", sa.String(200)),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("route", sa.JSON, nullable=False),
        sa.Column("policy_version", sa.String(100), nullable=False),
        sa.Column("policy_rule", sa.String(300)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("approvals", sa.JSON, nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("next_action_at", UTCDateTime),
        sa.Column("escalation_level", sa.Integer, nullable=False),
        sa.Column("escalation_loop", sa.Integer, nullable=False),
        sa.Column("escalation", sa.JSON),
        sa.Column("args_schema", sa.JSON),
        sa.Column("card_channel", sa.String(64)),
        sa.Column("card_ts", sa.String(64)),
        sa.Column("outcome_ok", sa.Boolean),
        sa.Column("outcome_summary", sa.Text),
        sa.Column("outcome_error", sa.Text),
        sa.Column("outcome_at", UTCDateTime),
        sa.Column("claimed_by", sa.String(100)),
        sa.Column("claimed_until", UTCDateTime),
        sa.UniqueConstraint("requested_by", "idempotency_key", name="uq_tickets_idempotency"),
    )
    op.create_index("ix_tickets_status", "tickets", ["status"])
    op.create_index("ix_tickets_status_next_action", "tickets", ["status", "next_action_at"])
    op.create_index("ix_tickets_status_expires", "tickets", ["status", "expires_at"])

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(32), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("args", sa.JSON),
        sa.Column("args_hash", sa.String(64)),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("policy_version", sa.String(100), nullable=False),
    )
    op.create_index("ix_decisions_ticket_id", "decisions", ["ticket_id"])

    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(32), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(64), nullable=False),
        sa.Column("user", sa.String(64)),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_ticket_messages_ticket_id", "ticket_messages", ["ticket_id"])

    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ticket_id", sa.String(32)),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_ticket_id", "audit_events", ["ticket_id"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])

    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    for table in ("audit_head", "audit_events", "ticket_messages", "decisions", "tickets"):
        op.drop_table(table)
