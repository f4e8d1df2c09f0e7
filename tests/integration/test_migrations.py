"""The migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection, make_url

from oar.db import Base, Database
from oar.db.migrations import VERSION_TABLE
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
