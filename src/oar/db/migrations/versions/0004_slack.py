"""slack: event dedupe, bot threads, conversations, notifications; approval announce thread

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import oar.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oar_slack_events",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("ts", sa.String(length=50), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("user", sa.String(length=50), nullable=True),
        sa.Column("received_at", oar.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_oar_slack_events")),
        sa.UniqueConstraint("channel", "ts", name="uq_oar_slack_events_channel_ts"),
    )
    with op.batch_alter_table("oar_slack_events", schema=None) as batch_op:
        batch_op.create_index("ix_oar_slack_events_received", ["received_at"], unique=False)

    op.create_table(
        "oar_slack_threads",
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("thread_ts", sa.String(length=50), nullable=False),
        sa.Column("started_at", oar.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "thread_ts", name=op.f("pk_oar_slack_threads")),
    )

    op.create_table(
        "oar_conversations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("thread_ts", sa.String(length=50), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("user", sa.String(length=50), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", oar.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oar_conversations")),
    )
    with op.batch_alter_table("oar_conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_oar_conversations_thread", ["channel", "thread_ts", "id"], unique=False
        )

    op.create_table(
        "oar_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("thread_ts", sa.String(length=50), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("source", sa.String(length=250), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("message_ts", sa.String(length=50), nullable=True),
        sa.Column("created_at", oar.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", oar.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oar_notifications")),
    )
    with op.batch_alter_table("oar_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_oar_notifications_created", ["created_at"], unique=False)
        batch_op.create_index("ix_oar_notifications_source", ["source"], unique=False)

    with op.batch_alter_table("oar_approvals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announce_thread", sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oar_approvals", schema=None) as batch_op:
        batch_op.drop_column("announce_thread")
    with op.batch_alter_table("oar_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_oar_notifications_source")
        batch_op.drop_index("ix_oar_notifications_created")
    op.drop_table("oar_notifications")
    with op.batch_alter_table("oar_conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_oar_conversations_thread")
    op.drop_table("oar_conversations")
    op.drop_table("oar_slack_threads")
    with op.batch_alter_table("oar_slack_events", schema=None) as batch_op:
        batch_op.drop_index("ix_oar_slack_events_received")
    op.drop_table("oar_slack_events")
