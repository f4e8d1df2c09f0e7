"""dashboard operations: a release can be hidden from the overview; follows record when
their row last changed (the dashboard's live operations page polls on it)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 04:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import oar.db.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TIME = oar.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("oar_releases") as batch:
        batch.add_column(sa.Column("hidden_at", _TIME, nullable=True))
        batch.add_column(sa.Column("hidden_by", sa.String(length=200), nullable=True))
    with op.batch_alter_table("oar_follows") as batch:
        batch.add_column(sa.Column("updated_at", _TIME, nullable=True))
    op.execute(
        "UPDATE oar_follows SET updated_at = COALESCE(finished_at, last_check_at, started_at)"
    )
    op.create_index("ix_oar_follows_updated", "oar_follows", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_oar_follows_updated", table_name="oar_follows")
    with op.batch_alter_table("oar_follows") as batch:
        batch.drop_column("updated_at")
    with op.batch_alter_table("oar_releases") as batch:
        batch.drop_column("hidden_by")
        batch.drop_column("hidden_at")
