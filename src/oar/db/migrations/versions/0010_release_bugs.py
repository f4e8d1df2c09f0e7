"""release bugs: oar_release_bugs, the bug list update-bug-list records per release

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 01:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import oar.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TIME = oar.db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oar_release_bugs",
        sa.Column("release", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("qa_contact", sa.String(length=320), nullable=True),
        sa.Column("assignee", sa.String(length=320), nullable=True),
        sa.Column("priority", sa.String(length=64), nullable=True),
        sa.Column("cve_tracker", sa.Boolean(), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("customer_case", sa.Boolean(), nullable=False),
        sa.Column("advisories", sa.JSON(), nullable=False),
        sa.Column("shipment_files", sa.JSON(), nullable=False),
        sa.Column("attached", sa.Boolean(), nullable=False),
        sa.Column("new", sa.Boolean(), nullable=False),
        sa.Column("first_seen", _TIME, nullable=False),
        sa.Column("last_changed", _TIME, nullable=False),
        sa.Column("detached_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["release"],
            ["oar_releases.release"],
            name=op.f("fk_oar_release_bugs_release_oar_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release", "key", name=op.f("pk_oar_release_bugs")),
    )


def downgrade() -> None:
    op.drop_table("oar_release_bugs")
