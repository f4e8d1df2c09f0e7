"""approval watches

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import oar.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oar_approval_watches",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("y_stream", sa.String(length=20), nullable=False),
        sa.Column("release", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", oar.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", oar.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("interval_seconds", sa.Double(), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("interface", sa.String(length=20), nullable=False),
        sa.Column("slack_channel", sa.String(length=100), nullable=True),
        sa.Column("slack_thread", sa.String(length=50), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("last_check_at", oar.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", oar.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("finished_at", oar.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oar_approval_watches")),
    )
    with op.batch_alter_table("oar_approval_watches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_oar_approval_watches_y_stream", ["y_stream", "started_at"], unique=False
        )
        batch_op.create_index(
            "uq_oar_approval_watches_running",
            ["y_stream"],
            unique=True,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("oar_approval_watches", schema=None) as batch_op:
        batch_op.drop_index("uq_oar_approval_watches_running")
        batch_op.drop_index("ix_oar_approval_watches_y_stream")
    op.drop_table("oar_approval_watches")
