"""The migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection, make_url

from oar.db import Base, Database
from oar.db.migrations import VERSION_TABLE
from oar.db.models import FollowRecord, TaskRecord
from oar.db.types import UTCDateTime, utcnow
from tests.conftest import PG_URL, require_postgres


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    require_postgres()
    # Derived from the test database, so parallel checkouts with their own database
    # (OAR_TEST_POSTGRES_URL) do not collide.
    name = f"{make_url(PG_URL).database}_migrations"
    admin = make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
    )
    diffs = compare_metadata(context, Base.metadata)
    # Tables that are not ours (the durable engine's) are not our business.
    return [d for d in diffs if not (d[0] == "remove_table" and not d[1].name.startswith("oar_"))]


async def test_migrations_produce_the_models_schema(fresh_url: str) -> None:
    async with Database(fresh_url) as db:
        assert await db.current_revision() is None
        await db.upgrade()
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
        head = await db.current_revision()
        assert head is not None
        await db.upgrade()  # a second upgrade is a no-op
        assert await db.current_revision() == head


_UPGRADE_SCRIPT = """
import asyncio, sys
from oar.db import Database

async def main(url):
    async with Database(url) as db:
        await db.upgrade()
        print(await db.current_revision())

asyncio.run(main(sys.argv[1]))
"""


async def test_two_processes_upgrading_at_once_both_succeed(fresh_url: str) -> None:
    async def upgrade() -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _UPGRADE_SCRIPT,
            fresh_url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()
        return out.decode().strip()

    first, second = await asyncio.gather(upgrade(), upgrade())
    assert first == second != "None"


# oar_approval_watches as migrations 0006 and 0007 left it (the table 0009 replaces).
_WATCHES = sa.Table(
    "oar_approval_watches",
    sa.MetaData(),
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("y_stream", sa.String(20)),
    sa.Column("release", sa.String(50)),
    sa.Column("status", sa.String(20)),
    sa.Column("started_at", UTCDateTime(timezone=True)),
    sa.Column("deadline_at", UTCDateTime(timezone=True)),
    sa.Column("interval_seconds", sa.Double()),
    sa.Column("started_by", sa.String(200)),
    sa.Column("interface", sa.String(20)),
    sa.Column("slack_channel", sa.String(100)),
    sa.Column("slack_thread", sa.String(50)),
    sa.Column("run_id", sa.Integer()),
    sa.Column("checks", sa.Integer()),
    sa.Column("last_check_at", UTCDateTime(timezone=True)),
    sa.Column("next_check_at", UTCDateTime(timezone=True)),
    sa.Column("error", sa.Text()),
    sa.Column("log", sa.JSON()),
    sa.Column("finished_at", UTCDateTime(timezone=True)),
    sa.Column("joined_runs", sa.JSON()),
)


async def test_a_running_approval_watch_is_a_running_follow_after_the_upgrade(
    fresh_url: str,
) -> None:
    started = utcnow() - timedelta(minutes=5)
    payload = {
        "watch_id": "approve-release:4.19",
        "release": "4.19.3",
        "y_stream": "4.19",
        "advisories": {"rpm": 1, "rhcos": 2},
        "channel": "#team-qe-release",
        "group": "4.19-qe-leads",
        "interval": 1800.0,
        "deadline": 172800.0,
    }
    async with Database(fresh_url) as db:
        await db.upgrade("0008")
        async with db.transaction() as session:
            session.add(
                TaskRecord(
                    id="approve-release:4.19",
                    name="release.approval-watch",
                    keyed=True,
                    queue="oar-tasks",
                    payload=payload,
                    status="running",
                    durable=True,
                    attempts=1,
                    retries=0,
                    max_attempts=1,
                    timeout_seconds=604800.0,
                    retry_delay=1.0,
                    backoff=2.0,
                    workflow_id="approve-release:4.19",
                )
            )
            await session.flush()
            common = {
                "release": "4.19.3",
                "interval_seconds": 1800.0,
                "interface": "slack",
                "log": ["watch started"],
                "deadline_at": None,
                "slack_channel": None,
                "slack_thread": None,
                "run_id": None,
                "joined_runs": None,
                "finished_at": None,
            }
            await session.execute(
                _WATCHES.insert(),
                [
                    {
                        **common,
                        "id": "approve-release:4.19",
                        "y_stream": "4.19",
                        "status": "running",
                        "started_at": started,
                        "deadline_at": started + timedelta(days=2),
                        "started_by": "lead",
                        "slack_channel": "C1",
                        "slack_thread": "1.2",
                        "run_id": 7,
                        "joined_runs": [8],
                        "checks": 2,
                    },
                    {
                        **common,
                        "id": "approve-release:4.18",
                        "y_stream": "4.18",
                        "status": "succeeded",
                        "started_at": started,
                        "started_by": "other",
                        "checks": 1,
                        "finished_at": started,
                    },
                ],
            )
        await db.upgrade()
        async with db.session() as session:
            rows = {r.id: r for r in (await session.scalars(sa.select(FollowRecord))).all()}
    running = rows["approve-release:4.19"]
    assert (running.kind, running.key, running.subject) == (
        "approval",
        "approve-release:4.19",
        "4.19",
    )
    assert running.status == "running"
    assert running.deadline_at == started + timedelta(days=2)
    assert (running.run_id, running.joined_runs, running.checks) == (7, [8], 2)
    assert (running.slack_channel, running.slack_thread) == ("C1", "1.2")
    assert running.task == "change-advisory-status"
    assert running.channel == "#team-qe-release"
    assert running.data == {"advisories": {"rpm": 1, "rhcos": 2}, "group": "4.19-qe-leads"}
    assert rows["approve-release:4.18"].status == "succeeded"
    assert rows["approve-release:4.18"].data == {}  # no task left: nothing to carry
