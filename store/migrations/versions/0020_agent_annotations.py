"""Agents that may vouch for MCP tool annotations.

``agents.trusted_annotations`` is set only for an ``signoff mcp-proxy`` token whose operator
trusts it to pass on the annotations of upstreams marked ``trust_annotations``. Any other
token's annotations reach policy marked untrusted: they can tighten it, never loosen it.
Existing agents vouch for nothing.

Revision ID: 0020
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("trusted_annotations", sa.Boolean, nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("trusted_annotations")
