"""CI gate: oar_job_runs (one row per triggered Prow run, unique per build, job and attempt)
and oar_job_builds (each build's result document and state)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 04:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import oar.db.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TIME = oar.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oar_job_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("build", sa.String(length=100), nullable=False),
        sa.Column("arch", sa.String(length=20), nullable=False),
        sa.Column("y_stream", sa.String(length=20), nullable=False),
        sa.Column("job_name", sa.String(length=300), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oar_job_runs")),
        sa.UniqueConstraint(
            "build", "arch", "job_name", "attempt", name="uq_oar_job_runs_build_arch_job_attempt"
        ),
    )
    op.create_index("ix_oar_job_runs_job_id", "oar_job_runs", ["job_id"], unique=False)
    op.create_table(
        "oar_job_builds",
        sa.Column("build", sa.String(length=100), nullable=False),
        sa.Column("arch", sa.String(length=20), nullable=False),
        sa.Column("y_stream", sa.String(length=20), nullable=False),
        sa.Column("nightly", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("build", "arch", name=op.f("pk_oar_job_builds")),
    )
    op.create_index(
        "ix_oar_job_builds_y_stream", "oar_job_builds", ["y_stream", "updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_oar_job_builds_y_stream", table_name="oar_job_builds")
    op.drop_table("oar_job_builds")
    op.drop_index("ix_oar_job_runs_job_id", table_name="oar_job_runs")
    op.drop_table("oar_job_runs")
