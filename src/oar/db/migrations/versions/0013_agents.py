"""agents: oar_detected_releases (the release detector), oar_result_files (the checker)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import oar.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_TIME = oar.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oar_detected_releases",
        sa.Column("release", sa.String(length=50), nullable=False),
        sa.Column("y_stream", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stable", sa.String(length=50), nullable=True),
        sa.Column("trigger", sa.String(length=50), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("detected_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("created_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("release", name=op.f("pk_oar_detected_releases")),
    )
    with op.batch_alter_table("oar_detected_releases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oar_detected_releases_y_stream"), ["y_stream"], unique=False
        )
    op.create_table(
        "oar_result_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("branch", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("build", sa.String(length=200), nullable=False),
        sa.Column("arch", sa.String(length=20), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=True),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("notice", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=100), nullable=True),
        sa.Column("message_ts", sa.String(length=50), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("first_seen", _TIME, nullable=False),
        sa.Column("checked_at", _TIME, nullable=False),
        sa.Column("noticed_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oar_result_files")),
        sa.UniqueConstraint("repo", "branch", "path", name="uq_oar_result_files_path"),
    )
    with op.batch_alter_table("oar_result_files", schema=None) as batch_op:
        batch_op.create_index("ix_oar_result_files_notice", ["notice"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oar_result_files", schema=None) as batch_op:
        batch_op.drop_index("ix_oar_result_files_notice")
    op.drop_table("oar_result_files")
    with op.batch_alter_table("oar_detected_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oar_detected_releases_y_stream"))
    op.drop_table("oar_detected_releases")
