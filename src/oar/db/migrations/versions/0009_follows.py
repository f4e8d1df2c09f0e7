"""durable follows: oar_approval_watches becomes oar_follows (kind ``approval``)

Every approval watch is copied over, running ones included, with its kind (``approval``),
its key (``approve-release:<y>``: one running follow per key), the checklist task it
finishes, and the data its workflow was started with (the task's payload: advisories,
release channel, QE-lead group); then the old table goes. A running watch's workflow
resumes on the new table (its task, ``release.approval-watch``, is still registered).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 22:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import oar.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TIME = oar.db.types.UTCDateTime(timezone=True)
_COMMON = (
    "id",
    "release",
    "status",
    "started_at",
    "deadline_at",
    "interval_seconds",
    "started_by",
    "interface",
    "slack_channel",
    "slack_thread",
    "run_id",
    "joined_runs",
    "checks",
    "last_check_at",
    "next_check_at",
    "error",
    "log",
    "finished_at",
)
_DATA_KEYS = ("advisories", "group")


def _watch_columns() -> list[sa.Column[Any]]:
    """oar_approval_watches as migrations 0006 and 0007 left it."""
    return [
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("y_stream", sa.String(length=20), nullable=False),
        sa.Column("release", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("deadline_at", _TIME, nullable=True),
        sa.Column("interval_seconds", sa.Double(), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("interface", sa.String(length=20), nullable=False),
        sa.Column("slack_channel", sa.String(length=100), nullable=True),
        sa.Column("slack_thread", sa.String(length=50), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("last_check_at", _TIME, nullable=True),
        sa.Column("next_check_at", _TIME, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("joined_runs", sa.JSON(), nullable=True),
    ]


def _follow_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("release", sa.String(length=50), nullable=True),
        sa.Column("task", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("deadline_at", _TIME, nullable=True),
        sa.Column("interval_seconds", sa.Double(), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("interface", sa.String(length=20), nullable=False),
        sa.Column("slack_channel", sa.String(length=100), nullable=True),
        sa.Column("slack_thread", sa.String(length=50), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("joined_runs", sa.JSON(), nullable=True),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("last_check_at", _TIME, nullable=True),
        sa.Column("next_check_at", _TIME, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
    ]


def upgrade() -> None:
    follows = op.create_table(
        "oar_follows",
        *_follow_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oar_follows")),
    )
    with op.batch_alter_table("oar_follows", schema=None) as batch_op:
        batch_op.create_index("ix_oar_follows_key", ["key", "started_at"], unique=False)
        batch_op.create_index("ix_oar_follows_kind", ["kind", "status"], unique=False)
        batch_op.create_index(
            "uq_oar_follows_running",
            ["key"],
            unique=True,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )
    bind = op.get_bind()
    # Declared, not reflected: the timestamps must be read back as UTC (as the models do).
    meta = sa.MetaData()
    watches = sa.Table("oar_approval_watches", meta, *_watch_columns())
    tasks = sa.Table(
        "oar_tasks", meta, sa.Column("id", sa.String(200)), sa.Column("payload", sa.JSON())
    )
    rows: list[dict[str, Any]] = []
    for watch in bind.execute(sa.select(watches)).mappings():
        payload = bind.execute(sa.select(tasks.c.payload).where(tasks.c.id == watch["id"]))
        started = payload.scalar_one_or_none() or {}
        row = {name: watch[name] for name in _COMMON}
        row["log"] = row["log"] or []
        row.update(
            kind="approval",
            key=f"approve-release:{watch['y_stream']}",
            subject=watch["y_stream"],
            task="change-advisory-status",
            channel=started.get("channel"),
            data={k: started[k] for k in _DATA_KEYS if k in started},
        )
        rows.append(row)
    if rows:
        op.bulk_insert(follows, rows)
    with op.batch_alter_table("oar_approval_watches", schema=None) as batch_op:
        batch_op.drop_index("uq_oar_approval_watches_running")
        batch_op.drop_index("ix_oar_approval_watches_y_stream")
    op.drop_table("oar_approval_watches")


def downgrade() -> None:
    watches = op.create_table(
        "oar_approval_watches",
        *_watch_columns(),
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
    follows = sa.Table("oar_follows", sa.MetaData(), *_follow_columns())
    approvals = sa.select(follows).where(follows.c.kind == "approval")
    rows = [
        {**{name: row[name] for name in _COMMON}, "y_stream": row["subject"]}
        for row in op.get_bind().execute(approvals).mappings()
    ]
    if rows:
        op.bulk_insert(watches, rows)
    with op.batch_alter_table("oar_follows", schema=None) as batch_op:
        batch_op.drop_index("uq_oar_follows_running")
        batch_op.drop_index("ix_oar_follows_kind")
        batch_op.drop_index("ix_oar_follows_key")
    op.drop_table("oar_follows")
