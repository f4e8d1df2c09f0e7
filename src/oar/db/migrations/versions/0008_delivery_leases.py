"""webhook deliveries: a lease on the claim of an unanswered delivery

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import oar.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, so existing records stay as they are; an unanswered one from before
    # counts its lease from received_at (oar.github.deliveries).
    with op.batch_alter_table("oar_webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_at", oar.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("lease_expires_at", oar.db.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("oar_webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("claimed_at")
