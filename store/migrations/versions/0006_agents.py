"""The agent gateway: agent identities, receipt signing keys, redemptions, webhook deliveries.

Receipt private keys live in ``signing_keys`` as PKCS#8 PEM, encrypted with
``SIGNOFF_KEYS_PASSPHRASE`` when it is set: agents reach signoff over HTTP with a token and
never hold the database URL, so the database is the operators' trust boundary.

Revision ID: 0006
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.tables import UTCDateTime

revision = "0006"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("actions", sa.JSON, nullable=False),
        sa.Column("max_pending", sa.Integer, nullable=False),
        sa.Column("webhook_url", sa.Text),
        sa.Column("webhook_secret", sa.String(100)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text, nullable=False),
        sa.Column("public_jwk", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("retired_at", UTCDateTime),
    )
    op.create_table(
        "receipt_redemptions",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("redeemed_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("agent", sa.String(100), nullable=False),
        sa.Column("ticket_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime),
        sa.Column("claimed_until", UTCDateTime),
        sa.Column("delivered_at", UTCDateTime),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_webhook_deliveries_agent", "webhook_deliveries", ["agent"])
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries",
                    ["status", "next_attempt_at"])
    op.create_index("ix_tickets_agent_status", "tickets", ["agent", "status"])


def downgrade() -> None:
    op.drop_index("ix_tickets_agent_status", "tickets")
    op.drop_table("webhook_deliveries")
    op.drop_table("receipt_redemptions")
    op.drop_table("signing_keys")
    op.drop_table("agents")
