"""jira notificator: oar_notificator_runs and oar_onqa_notifications (the escalation log)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import oar.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TIME = oar.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oar_notificator_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oar_notificator_runs")),
    )
    op.create_index(
        op.f("ix_oar_notificator_runs_started_at"),
        "oar_notificator_runs",
        ["started_at"],
        unique=False,
    )
    op.create_table(
        "oar_onqa_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("issue_key", sa.String(length=64), nullable=False),
        sa.Column("cycle", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", _TIME, nullable=False),
        sa.Column("posted_at", _TIME, nullable=True),
        sa.Column("mentioned", sa.JSON(), nullable=False),
        sa.Column("comment_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oar_onqa_notifications")),
        sa.UniqueConstraint(
            "issue_key", "cycle", "tier", name=op.f("uq_oar_onqa_notifications_issue_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("oar_onqa_notifications")
    op.drop_index(op.f("ix_oar_notificator_runs_started_at"), table_name="oar_notificator_runs")
    op.drop_table("oar_notificator_runs")
